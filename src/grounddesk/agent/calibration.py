"""The confidence calibration file: a logistic model's weights and the calibrator, fitted offline.

The confidence of an answer is ``calibrator(raw)`` where ``raw = bias + sum(w_j * (x_j - mean_j) / scale_j)
+ sum(prior_j * (x_j - reference_j))``: the *fitted* features are standardised and weighted by a logistic
regression fitted on labelled cases; the *prior* features (guard flags, router certainty, sentence support,
which the development data never varies) carry fixed, hand-set weights; the calibrator (Platt scaling or
isotonic regression) maps the raw score to a probability. The calibrator is fitted on out-of-fold raw scores
(cross-fitting), so the shrinkage a model fitted on all the data would hide is corrected.

Run time needs only numpy and this JSON file. ``src/grounddesk/agent/calibration.json`` is the file shipped
with the package, fitted on the MTRAG-UN development set; ``grounddesk eval calibrate`` fits a new one.

Example:
    >>> calibration = load_calibration(None)  # the packaged file
    >>> calibration.calibrator.kind
    'platt'
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field, ValidationError, model_validator

from grounddesk.config import Settings
from grounddesk.errors import ConfigurationError
from grounddesk.knowledge.service import ProgressFn
from grounddesk.knowledge.types import Embedder

__all__ = [
    "DEFAULT_L2",
    "SCHEMA_VERSION",
    "CalibrationFile",
    "Calibrator",
    "LinearModel",
    "PriorWeight",
    "fit_calibration",
    "fit_calibrator",
    "fit_linear_model",
    "fold_of",
    "load_calibration",
    "packaged_calibration_path",
    "save_calibration",
]

SCHEMA_VERSION = 1
#: Ridge penalty on the standardised weights. The fitted features overlap heavily (several similarities of the
#: same question to the same sentences); on the 250-odd training cases of a fold, 10 gave the best
#: cross-validated calibration of 0.1, 0.3, 1, 3, 10 and 30 at the same AUROC.
DEFAULT_L2 = 10.0
Array = NDArray[np.float64]


class LinearModel(BaseModel):
    """A logistic regression over standardised features (its log-odds is the raw confidence)."""

    features: list[str] = Field(min_length=1)
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    l2: float = Field(default=0.0, ge=0, description="The ridge penalty it was fitted with")

    @model_validator(mode="after")
    def _same_lengths(self) -> LinearModel:
        n = len(self.features)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError("features, mean, scale and weights must have the same length")
        if any(s <= 0 or not math.isfinite(s) for s in self.scale):
            raise ValueError("every scale must be a positive finite number")
        if not all(math.isfinite(v) for v in [*self.mean, *self.weights, self.bias]):
            raise ValueError("mean, weights and bias must be finite")
        return self

    def contributions(self, features: Mapping[str, float]) -> dict[str, float]:
        """Each feature's term of the log-odds, relative to an average case."""
        return {
            name: w * (float(features.get(name, m)) - m) / s
            for name, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True)
        }


class PriorWeight(BaseModel):
    """A hand-set weight for a feature the fitting data does not vary: adds ``weight * (x - reference)``."""

    weight: float
    reference: float = 0.0


class Calibrator(BaseModel):
    """Maps a raw score to a probability: Platt scaling ``sigmoid(a * raw + b)`` or isotonic interpolation."""

    kind: Literal["platt", "isotonic"] = "platt"
    a: float = 1.0
    b: float = 0.0
    x: list[float] = Field(default_factory=list, description="Isotonic knots (increasing raw scores)")
    y: list[float] = Field(default_factory=list, description="Isotonic probabilities at the knots (non-decreasing)")

    @model_validator(mode="after")
    def _valid(self) -> Calibrator:
        if self.kind == "platt":
            if self.a <= 0 or not math.isfinite(self.a) or not math.isfinite(self.b):
                raise ValueError("a Platt calibrator needs a positive finite slope a and a finite b")
            return self
        if len(self.x) < 1 or len(self.x) != len(self.y):
            raise ValueError("an isotonic calibrator needs knots x and y of the same non-zero length")
        if any(b < a for a, b in zip(self.x, self.x[1:], strict=False)):
            raise ValueError("isotonic knots x must be increasing")
        if any(b < a for a, b in zip(self.y, self.y[1:], strict=False)) or not all(0 <= v <= 1 for v in self.y):
            raise ValueError("isotonic values y must be non-decreasing and within [0, 1]")
        return self

    def __call__(self, raw: float) -> float:
        """The calibrated probability of ``raw``, in [0, 1]."""
        if self.kind == "platt":
            return _sigmoid(self.a * raw + self.b)
        return float(np.interp(raw, self.x, self.y))


class CalibrationFile(BaseModel):
    """Everything the confidence model needs, as written to ``calibration.json``."""

    schema_version: int = SCHEMA_VERSION
    model: LinearModel
    priors: dict[str, PriorWeight] = Field(default_factory=dict)
    calibrator: Calibrator = Field(default_factory=Calibrator)
    answer_threshold: float = Field(default=0.5, ge=0, le=1, description="Answer when confidence is at least this")
    fitted_on: dict[str, Any] = Field(default_factory=dict, description="Dataset, cases, label, query, data hash")
    metrics: dict[str, Any] = Field(default_factory=dict, description="Cross-validated figures at fitting time")

    @model_validator(mode="after")
    def _known_schema(self) -> CalibrationFile:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})")
        overlap = set(self.priors) & set(self.model.features)
        if overlap:
            raise ValueError(f"features both fitted and fixed: {sorted(overlap)}")
        return self

    def raw(self, features: Mapping[str, float]) -> float:
        """The uncalibrated score (log-odds) of a case."""
        score = self.model.bias + sum(self.model.contributions(features).values())
        for name, prior in self.priors.items():
            score += prior.weight * (float(features.get(name, prior.reference)) - prior.reference)
        return score

    def probability(self, features: Mapping[str, float]) -> float:
        """The calibrated confidence of a case."""
        return self.calibrator(self.raw(features))


def packaged_calibration_path() -> Path:
    """Where the calibration file shipped with grounddesk lives."""
    return Path(str(resources.files("grounddesk.agent") / "calibration.json"))


def load_calibration(path: Path | None = None) -> CalibrationFile:
    """Read a calibration file.

    Args:
        path: The file; None reads the one packaged with grounddesk.

    Raises:
        ConfigurationError: The file is missing, is not JSON, or does not describe a valid calibration.
    """
    where = path or packaged_calibration_path()
    try:
        text = where.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the calibration file {where}: {exc.strerror or exc}; run "
            "`grounddesk eval calibrate` to write one, or unset agent.calibration_file to use the packaged one",
            setting="agent.calibration_file",
            path=str(where),
        ) from exc
    try:
        return CalibrationFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        detail = f"{'.'.join(str(p) for p in first['loc']) or 'file'}: {first['msg']}"
        raise ConfigurationError(
            f"{where} is not a valid calibration file ({detail}); refit it with `grounddesk eval calibrate`",
            setting="agent.calibration_file",
            path=str(where),
        ) from exc


def save_calibration(calibration: CalibrationFile, path: Path) -> Path:
    """Write ``calibration`` as indented JSON (atomically: a temporary file renamed over ``path``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(calibration.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


# ------------------------------------------------------------------------------------------------ fitting
def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _newton_logistic(x: Array, y: Array, l2: Array, iterations: int = 50) -> Array:
    """Weights (last one the bias) of a ridge-penalised logistic regression, by Newton's method."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        grad = design.T @ (p - y) + l2 * w
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(l2) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


def fit_linear_model(
    features: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    names: Sequence[str],
    l2: float = DEFAULT_L2,
    *,
    nonnegative: bool = True,
) -> LinearModel:
    """A logistic regression of ``labels`` on the standardised ``names`` features of each case.

    Every confidence feature is built so that more of it should mean more confidence; with ``nonnegative``
    a feature whose fitted weight comes out negative (a quirk of the sample, or a near-duplicate of another
    feature) is held at zero and the rest refitted, so the model stays monotone and its reasons readable.
    """
    x = np.asarray([[float(f[n]) for n in names] for f in features], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    active = list(range(z.shape[1]))
    weights = np.zeros(z.shape[1])
    bias = 0.0
    while True:
        penalty = np.full(len(active) + 1, l2)
        penalty[-1] = 0.0
        w = _newton_logistic(z[:, active], y, penalty)
        weights[:] = 0.0
        weights[active] = w[:-1]
        bias = float(w[-1])
        negative = [j for j in active if weights[j] < 0]
        if not nonnegative or not negative:
            break
        active.remove(min(negative, key=lambda j: weights[j]))
    return LinearModel(
        features=list(names),
        mean=[round(float(v), 6) for v in mean],
        scale=[round(float(v), 6) for v in scale],
        weights=[round(float(v), 6) + 0.0 for v in weights],
        bias=round(bias, 6),
        l2=l2,
    )


def _isotonic(x: Array, y: Array) -> tuple[list[float], list[float]]:
    """Pool-adjacent-violators: knots (block means of x) and non-decreasing values (block means of y)."""
    order = np.argsort(x, kind="stable")
    blocks: list[list[float]] = []  # [sum_x, sum_y, count]
    for i in order:
        blocks.append([float(x[i]), float(y[i]), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, sy, n = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += n
    knots = [b[0] / b[2] for b in blocks]
    values = [b[1] / b[2] for b in blocks]
    return [round(k, 6) for k in knots], [round(min(1.0, max(0.0, v)), 6) for v in values]


def fit_calibrator(
    raw: Sequence[float], labels: Sequence[int], kind: Literal["platt", "isotonic"] = "platt"
) -> Calibrator:
    """Fit a calibrator mapping raw scores to the probability of a positive label.

    Platt scaling uses Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, which keeps small
    samples from producing probabilities of exactly 0 or 1.
    """
    x = np.asarray(raw, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if kind == "isotonic":
        knots, values = _isotonic(x, y)
        return Calibrator(kind="isotonic", x=knots, y=values)
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    target = np.where(y > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))
    w = _newton_logistic(x[:, None], target, np.array([1e-6, 0.0]))
    a, b = float(w[0]), float(w[1])
    if a <= 0:  # raw scores carry no signal here: fall back to the base rate
        a, b = 1e-6, math.log((pos + 1) / (neg + 1))
    return Calibrator(kind="platt", a=round(a, 6), b=round(b, 6))


def fold_of(group: str, folds: int) -> int:
    """A stable fold number for a group (e.g. a conversation id), the same on every machine and run."""
    return int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) % folds


def fit_model(
    features: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    groups: Sequence[str],
    names: Sequence[str],
    *,
    priors: Mapping[str, PriorWeight] | None = None,
    kind: Literal["platt", "isotonic"] = "platt",
    l2: float = DEFAULT_L2,
    inner_folds: int = 5,
) -> CalibrationFile:
    """Fit the linear model on all cases and the calibrator on inner out-of-fold raw scores (cross-fitting)."""
    prior_map = dict(priors or {})
    model = fit_linear_model(features, labels, names, l2)
    raw = np.zeros(len(labels))
    fold = [fold_of(g, inner_folds) for g in groups]
    for k in range(inner_folds):
        test = [i for i, f in enumerate(fold) if f == k]
        train = [i for i, f in enumerate(fold) if f != k]
        if not test or len({int(labels[i]) for i in train}) < 2:
            continue
        inner = CalibrationFile(
            model=fit_linear_model([features[i] for i in train], [labels[i] for i in train], names, l2),
            priors=prior_map,
        )
        for i in test:
            raw[i] = inner.raw(features[i])
    calibrator = fit_calibrator(raw.tolist(), list(labels), kind)
    return CalibrationFile(model=model, priors=prior_map, calibrator=calibrator)


def cross_validated_probabilities(
    features: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    groups: Sequence[str],
    names: Sequence[str],
    *,
    folds: int = 5,
    priors: Mapping[str, PriorWeight] | None = None,
    kind: Literal["platt", "isotonic"] = "platt",
    l2: float = DEFAULT_L2,
) -> list[float]:
    """Each case's confidence from a model fitted without its group's fold (``folds``-fold by group)."""
    fold = [fold_of(g, folds) for g in groups]
    out = [0.0] * len(labels)
    for k in range(folds):
        train = [i for i, f in enumerate(fold) if f != k]
        test = [i for i, f in enumerate(fold) if f == k]
        if not test:
            continue
        fitted = fit_model(
            [features[i] for i in train],
            [labels[i] for i in train],
            # The inner folds must not line up with the outer ones: salt the group names.
            [f"{groups[i]}#inner" for i in train],
            names,
            priors=priors,
            kind=kind,
            l2=l2,
        )
        for i in test:
            out[i] = fitted.probability(features[i])
    return out


def fit_calibration(
    data_dir: Path,
    *,
    embedder: Embedder | None = None,
    settings: Settings | None = None,
    progress: ProgressFn | None = None,
    query_fn: Callable[[Mapping[str, Any]], str] | None = None,
    kind: Literal["platt", "isotonic"] = "platt",
) -> CalibrationFile:
    """Fit the confidence model on the MTRAG-UN development set under ``data_dir``.

    Runs the answerability pipeline on every task (retrieve, compose, features), cross-validates to choose the
    answer threshold and report honest figures, then fits the file on all tasks.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        embedder: Reuse a loaded embedder.
        settings: Knowledge-base settings (the index is cached under the home, as the retrieval eval does).
        progress: Called as ``progress(done, total, label)``.
        query_fn: Turns a task into the retrieval query (default: the last user turn rewritten by the agent's
            follow-up rewriter, as at run time).
        kind: ``platt`` (default) or ``isotonic``.

    Returns:
        The fitted calibration, with its cross-validated metrics in ``metrics``; write it with
        :func:`save_calibration`.
    """
    from grounddesk.evals.answerability import calibration_from_cases, collect_cases, query_name

    cases = collect_cases(data_dir, settings=settings, embedder=embedder, progress=progress, query_fn=query_fn)
    return calibration_from_cases(cases, kind=kind, query=query_name(query_fn))
