"""The evaluation node functions on small real data, without Kedro."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from brain_tumor_mri.datasets import OptionalPartitionedDataset
from brain_tumor_mri.pipelines.evaluation.mlflow_metrics import flatten_for_mlflow
from brain_tumor_mri.pipelines.evaluation.nodes import (
    calibrate_probabilities,
    choose_review_threshold,
    collect_metrics,
    evaluate_predictions,
    fit_validation_temperature,
    load_external_test_set,
    predict_probabilities,
    predict_refit_probabilities,
    record_calibration,
    refit_last_layer,
)
from brain_tumor_mri.pipelines.evaluation.params import EvaluationParams
from tests.helpers.predictions import (
    CALIBRATION,
    EVALUATION,
    SCREENING,
    SEED,
    split_cache,
)
from tests.helpers.predictions import small_model as build_small_model
from tests.helpers.raw_folders import CLASSES, IMAGE_PREPROCESSING, SOURCE_GROUPS


@pytest.fixture(scope="module")
def small_model() -> keras.Model:
    return build_small_model()


def test_predict_probabilities_in_batches_with_and_without_flip(small_model) -> None:
    cache = split_cache(10)
    expected = small_model.predict(cache["images"], verbose=0)
    mirrored = small_model.predict(cache["images"][:, :, ::-1], verbose=0)

    plain = predict_probabilities(small_model, cache, {**EVALUATION, "batch_size": 4})
    flipped = predict_probabilities(
        small_model,
        cache,
        EvaluationParams.model_validate(
            {**EVALUATION, "batch_size": 4, "tta_flip": True}
        ),
    )

    assert plain["probabilities"].shape == (10, 4)
    assert plain["probabilities"].dtype == np.float32
    np.testing.assert_allclose(plain["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(
        flipped["probabilities"], (expected + mirrored) / 2, atol=1e-5
    )
    np.testing.assert_allclose(flipped["probabilities"].sum(axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(plain["labels"], cache["labels"])
    np.testing.assert_array_equal(plain["paths"], cache["paths"])


def test_empty_split_gives_no_predictions_nor_metrics(small_model) -> None:
    empty = {
        "images": np.zeros((0, 32, 32, 3), np.uint8),
        "labels": np.zeros(0, np.int64),
        "paths": np.zeros(0, str),
    }

    predictions = predict_probabilities(small_model, empty, EVALUATION)
    calibrated = calibrate_probabilities(predictions, CALIBRATION)

    assert predictions["probabilities"].shape == (0, 4)
    assert calibrated["probabilities"].shape == (0, 4)
    assert (
        evaluate_predictions(
            predictions,
            calibrated,
            CALIBRATION,
            CLASSES,
            SOURCE_GROUPS,
            "no_tumor",
            SCREENING,
            EVALUATION,
            SEED,
        )
        == {}
    )


def test_collect_metrics_names_every_split(small_model) -> None:
    metrics = {}
    for i, split in enumerate(("val", "test", "test_dedup")):
        predictions = predict_probabilities(
            small_model, split_cache(12, seed=i), EVALUATION
        )
        metrics[split] = evaluate_predictions(
            predictions,
            calibrate_probabilities(predictions, CALIBRATION),
            CALIBRATION,
            CLASSES,
            SOURCE_GROUPS,
            "no_tumor",
            SCREENING,
            EVALUATION,
            SEED,
        )

    evaluated, summary, per_class, confusion, mlflow_metrics = collect_metrics(
        CALIBRATION, **metrics, external={}
    )

    assert list(evaluated) == ["val", "test", "test_dedup"]
    json.dumps(evaluated, allow_nan=False)
    assert list(summary["split"]) == ["val", "test", "test_dedup"]
    assert set(per_class["split"]) == {"val", "test", "test_dedup"}
    assert per_class.columns[0] == "split"
    assert len(confusion) == 3 * 16
    assert confusion.groupby("split")["count"].sum().to_dict() == {
        "test": 12,
        "test_dedup": 12,
        "val": 12,
    }
    for name in (
        "test_accuracy",
        "test_dedup_macro_f1",
        "val_roc_auc_glioma_tumor",
        "val_ece",
        "val_ece_uncalibrated",
        "test_tumour_sensitivity",
        "test_tumour_specificity",
        "test_missed_tumours",
        "test_dedup_coverage_at_threshold",
        "temperature",
        "confidence_threshold",
    ):
        assert mlflow_metrics[name] == {
            "value": pytest.approx(mlflow_metrics[name]["value"]),
            "step": 0,
        }
    assert not any(name.startswith("external") for name in mlflow_metrics)
    for split in ("val", "test", "test_dedup"):
        assert evaluated[split]["bootstrap"]["resamples"] == 200
        for name in (
            "accuracy",
            "macro_f1",
            "recall_glioma_tumor",
            "tumour_sensitivity",
            "tumour_specificity",
            "tumour_sensitivity_other_source",
            "worst_group_accuracy",
        ):
            interval = evaluated[split]["confidence_intervals"][name]
            assert set(interval) == {"estimate", "low", "high"}, name
            if interval["low"] is not None:
                low = mlflow_metrics[f"{split}_{name}_ci_low"]["value"]
                high = mlflow_metrics[f"{split}_{name}_ci_high"]["value"]
                assert low == interval["low"]
                assert low <= interval["estimate"] <= high, name
    for name in ("test_accuracy_ci_low", "val_accuracy_ci_high", "val_macro_f1_ci_low"):
        assert mlflow_metrics[name]["step"] == 0
    assert mlflow_metrics["temperature"]["value"] == 1.5
    for column in ("ECE uncalibrated", "tumour sensitivity", "missed tumours"):
        assert summary[column].notna().all(), column


def test_the_last_layer_refitted_on_validation_measures_the_test_split(
    small_model, caplog
) -> None:
    caplog.set_level("INFO")
    val = split_cache(48, seed=5)
    test = split_cache(16, seed=6)
    val_predictions = predict_probabilities(small_model, val, EVALUATION)
    inputs = (CLASSES, SOURCE_GROUPS, "no_tumor", SCREENING)

    refit = refit_last_layer(
        small_model, val, val_predictions, *inputs, EVALUATION, SEED
    )
    refitted = predict_refit_probabilities(small_model, test, refit, EVALUATION)
    original = predict_probabilities(small_model, test, EVALUATION)
    off = {**EVALUATION, "last_layer_retraining": {"enabled": False, "strengths": [1]}}
    _, _, _, _, mlflow_metrics = collect_metrics(CALIBRATION, last_layer_refit=refit)

    assert refit["strength"] in EVALUATION["last_layer_retraining"]["strengths"]
    assert "Last layer refitted on 48 validation images" in caplog.text
    assert refitted["probabilities"].shape == (16, 4)
    np.testing.assert_allclose(refitted["probabilities"].sum(axis=1), 1, atol=1e-5)
    assert not np.allclose(refitted["probabilities"], original["probabilities"])
    np.testing.assert_array_equal(refitted["labels"], test["labels"])
    assert mlflow_metrics["dfr_strength"]["value"] == refit["strength"]
    assert mlflow_metrics["dfr_preferred"]["value"] == float(refit["preferred"])
    assert refit_last_layer(small_model, val, val_predictions, *inputs, off, SEED) == {}
    assert (
        len(predict_refit_probabilities(small_model, test, {}, EVALUATION)["labels"])
        == 0
    )


def test_no_bootstrap_resample_gives_no_interval(small_model) -> None:
    predictions = predict_probabilities(small_model, split_cache(12), EVALUATION)
    params = {**EVALUATION, "bootstrap": {"resamples": 0, "confidence": 0.95}}

    metrics = evaluate_predictions(
        predictions,
        calibrate_probabilities(predictions, CALIBRATION),
        CALIBRATION,
        CLASSES,
        SOURCE_GROUPS,
        "no_tumor",
        SCREENING,
        params,
        SEED,
    )

    assert "confidence_intervals" not in metrics
    assert not any(
        name.endswith("_ci_low") for name in flatten_for_mlflow(metrics, "test")
    )


def test_calibration_nodes_fit_on_validation_and_keep_the_argmax(small_model) -> None:
    predictions = predict_probabilities(
        small_model, split_cache(40, seed=3), EVALUATION
    )

    fit = fit_validation_temperature(predictions)
    calibrated = calibrate_probabilities(predictions, fit)
    threshold = choose_review_threshold(calibrated, SOURCE_GROUPS, EVALUATION)
    calibration = record_calibration(fit, threshold, IMAGE_PREPROCESSING)

    assert fit["nll_after"] <= fit["nll_before"]
    np.testing.assert_array_equal(
        calibrated["probabilities"].argmax(1), predictions["probabilities"].argmax(1)
    )
    np.testing.assert_array_equal(calibrated["labels"], predictions["labels"])
    assert calibration["fitted_on"] == "val"
    assert calibration["temperature"] == fit["temperature"]
    assert calibration["image_preprocessing"] == IMAGE_PREPROCESSING
    json.dumps(calibration, allow_nan=False)
    metrics = evaluate_predictions(
        predictions,
        calibrated,
        calibration,
        CLASSES,
        SOURCE_GROUPS,
        "no_tumor",
        SCREENING,
        EVALUATION,
        SEED,
    )
    assert metrics["log_loss"] == pytest.approx(fit["nll_after"], rel=1e-6)
    assert metrics["log_loss_uncalibrated"] == pytest.approx(
        fit["nll_before"], rel=1e-4
    )
    # A random small model is far from 95% accurate: everything is flagged.
    assert not calibration["target_reached"]
    assert metrics["coverage_at_threshold"] == 0.0


def write_png(path, value: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 50, 3), value, np.uint8))


def external_images(path: Path | None) -> dict:
    """The partitions of the catalog's ``external_test_images`` at ``path``."""
    return OptionalPartitionedDataset(
        path=None if path is None else str(path),
        dataset={
            "type": "text.TextDataset",
            "fs_args": {"open_args_load": {"mode": "rb"}},
        },
    ).load()


def test_external_test_set_uses_class_aliases(tmp_path, caplog) -> None:
    write_png(tmp_path / "glioma" / "a.png", 10)
    write_png(tmp_path / "NoTumor" / "b.png", 20)
    write_png(tmp_path / "NoTumor" / "nested" / "c.png", 30)
    write_png(tmp_path / "unknown" / "d.png", 40)
    write_png(tmp_path / "outside.png", 50)
    (tmp_path / "glioma" / "broken.jpg").write_bytes(b"not an image")

    external = load_external_test_set(
        external_images(tmp_path), CLASSES, [16, 16], IMAGE_PREPROCESSING
    )

    assert external["images"].shape == (3, 16, 16, 3)
    assert external["labels"].tolist() == [2, 2, 0]
    assert external["paths"].tolist() == [
        "NoTumor/b.png",
        "NoTumor/nested/c.png",
        "glioma/a.png",
    ]
    assert "Ignoring 'unknown'" in caplog.text
    assert "Ignoring 'outside.png'" in caplog.text
    assert "Skipping 'glioma/broken.jpg'" in caplog.text


def test_external_test_set_absent_is_empty() -> None:
    external = load_external_test_set(
        external_images(None), CLASSES, [16, 16], IMAGE_PREPROCESSING
    )

    assert external["images"].shape == (0, 16, 16, 3)
    assert external["labels"].shape == (0,)


def test_the_review_threshold_holds_in_every_source_group() -> None:
    # Group a: right at any confidence; group b: the 20 least confident are wrong.
    rng = np.random.default_rng(0)
    labels = np.zeros(80, dtype=np.int64)
    confidence = np.concatenate([rng.uniform(0.5, 1, 40), np.linspace(0.5, 1, 40)])
    wrong = np.zeros(80, dtype=bool)
    wrong[40:60] = True
    probabilities = np.zeros((80, 4))
    probabilities[np.arange(80), np.where(wrong, 1, 0)] = confidence
    probabilities[np.arange(80), 3] = 1 - confidence
    predictions = {
        "labels": labels,
        "probabilities": probabilities,
        "groups": np.array(["a"] * 40 + ["b"] * 40),
    }
    review = {**EVALUATION, "review": {"target_accuracy": 0.9}}
    plain = choose_review_threshold(
        {k: v for k, v in predictions.items() if k != "groups"}, SOURCE_GROUPS, review
    )
    robust = choose_review_threshold(predictions, SOURCE_GROUPS, review)
    assert robust["confidence_threshold"] > plain["confidence_threshold"]
    kept = (confidence >= robust["confidence_threshold"]) & (np.arange(80) >= 40)
    assert (~wrong[kept]).mean() >= 0.9
    assert set(robust["chosen_by_group"]) == {"a", "b"}
    assert robust["coverage"] < plain["coverage"]
