"""The names of the data set's splits, and which of them each pipeline uses.

The one place that names them: preprocessing caches ``CACHED_SPLITS``, evaluation
measures ``EVALUATED_SPLITS`` and reporting draws ``REPORTED_SPLITS``.
"""

# The splits that preprocessing makes from the raw folder (train and val from
# Training/, test from Testing/) and caches as arrays.
CACHED_SPLITS = ("train", "val", "test")

# The splits measured with the model as trained. test_dedup: the test images with no
# near duplicate in train or val; external: an optional folder of labelled images,
# empty and not evaluated unless `--params external_test_dir=PATH` names one (see
# conf/base/catalog_evaluation.yml).
MEASURED_SPLITS = ("val", "test", "test_dedup", "external")

# The test splits are also measured with the model adapted to each one's own images:
# with AdaBN (evaluation.adapt_batch_norm), as the splits "<split>_adapted", and with
# TENT after AdaBN (evaluation.tent), as the splits "<split>_tent".
ADAPTED_SPLITS = ("test", "test_dedup", "external")
ADAPTED_SUFFIX = "_adapted"
TENT_SPLITS = ("test", "test_dedup")
TENT_SUFFIX = "_tent"
# And with the model's output layer refitted on the validation split (last-layer
# retraining, evaluation.last_layer_retraining), as the splits "<split>_dfr".
DFR_SPLITS = ("test", "test_dedup", "external")
DFR_SUFFIX = "_dfr"

# Every split that evaluation measures, in the order of its outputs.
EVALUATED_SPLITS = (
    *MEASURED_SPLITS,
    *(f"{split}{ADAPTED_SUFFIX}" for split in ADAPTED_SPLITS),
    *(f"{split}{TENT_SUFFIX}" for split in TENT_SPLITS),
    *(f"{split}{DFR_SUFFIX}" for split in DFR_SPLITS),
)


def images_of(split: str) -> str:
    """The split whose images an evaluated split predicts (``test`` for
    ``test_adapted``, ``test_tent`` and ``test_dfr``)."""
    for suffix in (ADAPTED_SUFFIX, TENT_SUFFIX, DFR_SUFFIX):
        split = split.removesuffix(suffix)
    return split


# The splits that reporting draws (every evaluated split), each with the split whose
# cached images its galleries show.
REPORTED_SPLITS = {split: images_of(split) for split in EVALUATED_SPLITS}
