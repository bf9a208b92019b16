"""Helpers shared by the figures: the choice of examples, the message figure."""

from __future__ import annotations

import numpy as np

from brain_tumor_mri.pipelines.reporting.figures.common import most_confident


def test_most_confident_picks_the_highest_scores_of_the_mask_in_order():
    mask = np.array([True, False, True, True, True])
    scores = np.array([0.5, 0.99, 0.9, 0.5, 0.7])
    assert most_confident(mask, scores, 3).tolist() == [2, 4, 0]
    assert most_confident(mask, scores).tolist() == [2, 4, 0, 3]
    assert most_confident(~mask & False, scores, 3).size == 0
