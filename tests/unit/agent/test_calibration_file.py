"""The calibration file: fitting (logistic model, Platt and isotonic), cross-fitting, load/save, bad files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from grounddesk.agent.calibration import (
    CalibrationFile,
    Calibrator,
    LinearModel,
    PriorWeight,
    cross_validated_probabilities,
    fit_calibrator,
    fit_linear_model,
    fit_model,
    fold_of,
    load_calibration,
    save_calibration,
)
from grounddesk.errors import ConfigurationError, ErrorCode


def noisy_cases(n: int = 300, seed: int = 7) -> tuple[list[dict[str, float]], list[int], list[str]]:
    """``a`` raises the odds of a positive label, ``b`` is noise, ``c`` lowers them."""
    rng = random.Random(seed)
    features, labels, groups = [], [], []
    for i in range(n):
        a, b, c = rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)
        p = 1 / (1 + np.exp(-(2.0 * a - 1.0 * c)))
        features.append({"a": a, "b": b, "c": c})
        labels.append(int(rng.random() < p))
        groups.append(f"conversation-{i // 3}")
    return features, labels, groups


@pytest.mark.parametrize("kind", ["platt", "isotonic"])
def test_calibrators_are_monotonic_and_within_0_and_1(kind: str) -> None:
    rng = random.Random(1)
    raw = [rng.gauss(0, 2) for _ in range(200)]
    labels = [int(rng.random() < 1 / (1 + np.exp(-r))) for r in raw]
    calibrator = fit_calibrator(raw, labels, kind)  # type: ignore[arg-type]
    grid = np.linspace(-20, 20, 401)
    values = [calibrator(float(x)) for x in grid]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    assert values[-1] - values[0] > 0.5  # it does separate


def test_platt_scaling_recovers_a_known_curve() -> None:
    rng = random.Random(3)
    raw = [rng.uniform(-4, 4) for _ in range(4000)]
    labels = [int(rng.random() < 1 / (1 + np.exp(-(1.5 * r - 0.5)))) for r in raw]
    calibrator = fit_calibrator(raw, labels, "platt")
    assert calibrator.a == pytest.approx(1.5, abs=0.2)
    assert calibrator.b == pytest.approx(-0.5, abs=0.2)


def test_isotonic_pools_adjacent_violators() -> None:
    calibrator = fit_calibrator([0.0, 1.0, 2.0, 3.0], [0, 1, 0, 1], "isotonic")
    # 1 then 0 violate the order and pool into one block of mean 0.5 at x = 1.5
    assert calibrator.x == [0.0, 1.5, 3.0]
    assert calibrator.y == [0.0, 0.5, 1.0]
    assert calibrator(0.75) == pytest.approx(0.25)


def test_the_linear_model_learns_directions_and_keeps_weights_non_negative() -> None:
    features, labels, _ = noisy_cases()
    free = fit_linear_model(features, labels, ["a", "b", "c"], l2=1.0, nonnegative=False)
    assert free.weights[0] > 1.0
    assert free.weights[2] < -0.5
    monotone = fit_linear_model(features, labels, ["a", "b", "c"], l2=1.0)
    assert monotone.weights[0] > 1.0
    assert monotone.weights[2] == 0.0
    assert all(w >= 0 for w in monotone.weights)


def test_folds_are_stable_and_keep_a_group_together() -> None:
    assert fold_of("conversation-1", 5) == fold_of("conversation-1", 5)
    assert {fold_of(f"c{i}", 5) for i in range(100)} == {0, 1, 2, 3, 4}


def test_a_cross_validated_probability_never_sees_its_own_label() -> None:
    features, labels, groups = noisy_cases(120)
    before = cross_validated_probabilities(features, labels, groups, ["a", "b", "c"], folds=4)
    flipped = list(labels)
    flipped[0] = 1 - flipped[0]
    after = cross_validated_probabilities(features, flipped, groups, ["a", "b", "c"], folds=4)
    assert after[0] == before[0]
    assert after != before  # the other folds did see it
    assert all(0.0 <= p <= 1.0 for p in before)


def test_priors_shift_the_raw_score_by_their_weight() -> None:
    features, labels, groups = noisy_cases(90)
    fitted = fit_model(
        features, labels, groups, ["a"], priors={"out_of_scope": PriorWeight(weight=-5.0)}, inner_folds=3
    )
    case = {"a": 0.3, "out_of_scope": 0.0}
    assert fitted.raw({**case, "out_of_scope": 1.0}) == pytest.approx(fitted.raw(case) - 5.0)
    assert fitted.probability({**case, "out_of_scope": 1.0}) < fitted.probability(case)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    features, labels, groups = noisy_cases(60)
    fitted = fit_model(features, labels, groups, ["a", "b"], kind="isotonic", inner_folds=3)
    path = save_calibration(fitted.model_copy(update={"answer_threshold": 0.61}), tmp_path / "cal" / "c.json")
    loaded = load_calibration(path)
    assert loaded == fitted.model_copy(update={"answer_threshold": 0.61})
    assert loaded.probability(features[0]) == fitted.probability(features[0])
    assert not (tmp_path / "cal" / "c.json.tmp").exists()


def test_the_packaged_file_loads_and_ranks_a_strong_case_above_a_weak_one() -> None:
    packaged = load_calibration(None)
    assert 0.0 < packaged.answer_threshold < 1.0
    assert packaged.fitted_on["dataset"] == "mtrag"
    strong = dict(
        zip(
            packaged.model.features,
            [m + 2 * s for m, s in zip(packaged.model.mean, packaged.model.scale, strict=True)],
            strict=True,
        )
    )
    weak = dict(
        zip(
            packaged.model.features,
            [m - 2 * s for m, s in zip(packaged.model.mean, packaged.model.scale, strict=True)],
            strict=True,
        )
    )
    assert packaged.probability(strong) > packaged.answer_threshold > packaged.probability(weak)


def _valid() -> dict[str, object]:
    model = LinearModel(features=["a"], mean=[0.0], scale=[1.0], weights=[1.0], bias=0.0)
    return CalibrationFile(model=model, calibrator=Calibrator(kind="platt", a=1.0, b=0.0)).model_dump(mode="json")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d["model"].update(weights=[1.0, 2.0]), "same length"),
        (lambda d: d["model"].update(scale=[0.0]), "scale"),
        (lambda d: d.update(calibrator={"kind": "platt", "a": -1.0, "b": 0.0}), "positive"),
        (lambda d: d.update(calibrator={"kind": "isotonic", "x": [0.0, 1.0], "y": [0.9, 0.1]}), "non-decreasing"),
        (lambda d: d.update(priors={"a": {"weight": 1.0}}), "both fitted and fixed"),
        (lambda d: d.pop("model"), "model"),
        (lambda d: d.update(answer_threshold=1.5), "answer_threshold"),
    ],
)
def test_a_bad_calibration_file_raises_configuration_error(tmp_path: Path, mutate: object, expected: str) -> None:
    data = _valid()
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigurationError) as err:
        load_calibration(path)
    assert err.value.code is ErrorCode.CONFIGURATION
    assert expected in err.value.detail
    assert err.value.fields["path"] == str(path)


def test_a_missing_or_unreadable_calibration_file_raises_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_calibration(tmp_path / "absent.json")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ConfigurationError, match="not a valid calibration file"):
        load_calibration(tmp_path / "junk.json")
