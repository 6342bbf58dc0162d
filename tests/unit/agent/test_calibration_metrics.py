"""AUROC, expected calibration error and Spearman correlation on tiny cases worked out by hand."""

from __future__ import annotations

import math

import pytest

from grounddesk.evals.metrics import auroc, expected_calibration_error, spearman


def test_auroc() -> None:
    # positives 0.9, 0.3; negatives 0.8, 0.1: 0.9 beats both, 0.3 beats 0.1 only -> 3 of 4 pairs
    assert auroc([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]) == pytest.approx(0.75)
    # a tie counts half
    assert auroc([0.5, 0.5, 0.2], [1, 0, 0]) == pytest.approx((0.5 + 1.0) / 2)
    assert auroc([0.1, 0.9], [True, False]) == 0.0
    assert auroc([0.3, 0.4], [1, 1]) == 0.5  # one class only: nothing to rank
    with pytest.raises(ValueError):
        auroc([0.1], [1, 0])


def test_expected_calibration_error() -> None:
    # bin 0: p 0.05, y 0 -> 0.05 x 1/4; bin 1: p 0.15, y 1 -> 0.85 x 1/4; bin 9: mean p 0.95, mean y 0.5 -> 0.45 x 2/4
    probs = [0.05, 0.15, 0.95, 0.95]
    assert expected_calibration_error(probs, [0, 1, 1, 0], bins=10) == pytest.approx(0.0125 + 0.2125 + 0.225)
    # a probability of exactly 1 falls in the last bin with 0.9: mean p 0.95 against mean label 1 -> 0.05
    assert expected_calibration_error([0.9, 1.0], [1, 1], bins=10) == pytest.approx(0.05)
    assert expected_calibration_error([0.25, 0.75], [0, 1], bins=2) == pytest.approx(0.25)
    assert expected_calibration_error([], []) == 0.0


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share ranks: x ranks 1, 2.5, 2.5, 4 against 1, 2, 3, 4 -> 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0
