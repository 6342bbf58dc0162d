"""How sure the agent is: explicit features -> a raw score -> a calibrated probability, with reasons.

Features (:class:`ConfidenceFeatures`) come from retrieval (fused, dense and sparse scores of the best hits,
the margin between the first two), from the answer (how closely its sentences and the best source sentences
match the question, how many distinct approved documents agree with it, how well its sentences are
supported), and from the rest of the turn (router certainty, out-of-scope flag, guard flags). The weights and
the calibrator live in the calibration file (:mod:`grounddesk.agent.calibration`); each
:class:`~grounddesk.agent.types.Confidence` carries its factors in plain words, most important first.

Example:
    >>> scorer = ConfidenceScorer(embedder)
    >>> confidence = scorer.score(question, hits, draft, route=route, guard=guard)
    >>> confidence.score, confidence.reasons[:2]
    (0.91, ['the best source matches the question closely', 'two approved sources agree'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from grounddesk.agent.calibration import CalibrationFile, PriorWeight, load_calibration
from grounddesk.agent.compose import CachedEmbedder, ComposeSettings, candidate_sentences
from grounddesk.agent.types import Confidence, ConfidenceFactor, Draft, GuardResult, Route
from grounddesk.knowledge.search import Hit
from grounddesk.knowledge.sparse import tokenize
from grounddesk.knowledge.types import Embedder

__all__ = [
    "DEFAULT_PRIORS",
    "FITTED_FEATURES",
    "ConfidenceFeatures",
    "ConfidenceModel",
    "ConfidenceScorer",
]

#: Features whose weights are fitted on labelled cases.
FITTED_FEATURES = (
    "fused_top",
    "dense_top",
    "sparse_top",
    "margin",
    "sentence_match",
    "message_match",
    "term_coverage",
    "answer_match",
    "agreement",
)

#: Hand-set weights (log-odds per unit away from the reference) for what the development data never varies.
DEFAULT_PRIORS: dict[str, PriorWeight] = {
    "support_min": PriorWeight(weight=4.0, reference=1.0),
    "support_mean": PriorWeight(weight=2.0, reference=1.0),
    "router_score": PriorWeight(weight=3.0, reference=1.0),
    "out_of_scope": PriorWeight(weight=-5.0),
    "injection": PriorWeight(weight=-5.0),
    "sensitive": PriorWeight(weight=-2.0),
}

_AGREE_COSINE = 0.8  # a document "agrees" when one of its sentences nearly restates the answer
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


class ConfidenceFeatures(BaseModel):
    """The explicit inputs of the confidence of one answer."""

    fused_top: float = 0.0
    dense_top: float = 0.0
    sparse_top: float = 0.0
    margin: float = 0.0
    sentence_match: float = 0.0
    message_match: float = 0.0
    term_coverage: float = 0.0
    answer_match: float = 0.0
    agreement: float = 0.0
    support_mean: float = 0.0
    support_min: float = 0.0
    router_score: float = 1.0
    out_of_scope: float = 0.0
    injection: float = 0.0
    sensitive: float = 0.0


def _count(n: float) -> str:
    k = round(n)
    return _NUMBER_WORDS[k] if 0 <= k < len(_NUMBER_WORDS) else str(k)


_PHRASES: dict[str, tuple[str | None, str | None]] = {
    # feature: (when it raised the confidence, when it lowered it)
    "dense_top": ("the best source matches the question closely", "no source matches the question closely"),
    "sentence_match": ("the best source matches the question closely", "no source matches the question closely"),
    "message_match": ("the customer's own words match a source", "the customer's own words match no source well"),
    "answer_match": ("the answer stays on the question's topic", "the answer drifts from what was asked"),
    "term_coverage": (
        "the question's key words appear in the sources",
        "some key words of the question appear in no source",
    ),
    "sparse_top": ("the sources share the question's rarer terms", "few of the question's terms occur in the sources"),
    "fused_top": ("the sources share the question's rarer terms", "few of the question's terms occur in the sources"),
    "margin": ("one source stands out from the rest", "several sources match about equally"),
    "support_min": (None, "the answer's sentences are only weakly supported by the sources"),
    "support_mean": (None, "the answer's sentences are only weakly supported by the sources"),
    "router_score": (None, "it is unclear what the customer wants"),
}
_FLAGS = {
    "out_of_scope": "the question is outside what the knowledge base covers",
    "injection": "the message tries to change the assistant's instructions",
    "sensitive": "the message touches a sensitive topic",
}


def _phrase(name: str, value: float, up: bool) -> str | None:
    """The plain-words reading of a feature; ``up`` says whether it raised the confidence."""
    if name == "agreement":
        if value >= 2:
            return f"{_count(value)} approved sources agree"
        return "only one approved source supports the answer" if value >= 1 else "no approved source backs the answer"
    if name in _FLAGS:
        return _FLAGS[name] if value else None
    raised, lowered = _PHRASES.get(name, (None, None))
    return raised if up else lowered


class ConfidenceModel:
    """Turns features into a calibrated :class:`~grounddesk.agent.types.Confidence` with its reasons.

    Args:
        calibration: Weights and calibrator; None loads the file packaged with grounddesk.
    """

    def __init__(self, calibration: CalibrationFile | None = None) -> None:
        self.calibration = calibration or load_calibration(None)

    @property
    def answer_threshold(self) -> float:
        """Answer when the confidence is at least this (chosen when the file was fitted)."""
        return self.calibration.answer_threshold

    def confidence(self, features: ConfidenceFeatures | Mapping[str, float], max_factors: int = 5) -> Confidence:
        """The calibrated confidence and up to ``max_factors`` reasons, the weightiest first."""
        values = features.model_dump() if isinstance(features, ConfidenceFeatures) else dict(features)
        cal = self.calibration
        raw = cal.raw(values)
        terms = dict(cal.model.contributions(values))
        for name, prior in cal.priors.items():
            terms[name] = prior.weight * (float(values.get(name, prior.reference)) - prior.reference)
        factors: list[tuple[float, ConfidenceFactor]] = []
        phrases: set[str] = set()
        for name, term in sorted(terms.items(), key=lambda kv: -abs(kv[1])):
            if abs(term) < 1e-6:
                continue
            phrase = _phrase(name, float(values.get(name, 0.0)), term > 0)
            if phrase is None or phrase in phrases:
                continue
            phrases.add(phrase)
            factors.append((abs(term), ConfidenceFactor(name=name, value=round(float(values[name]), 4), phrase=phrase)))
        score = min(1.0, max(0.0, cal.calibrator(raw)))
        return Confidence(score=round(score, 4), raw=round(raw, 4), factors=[f for _, f in factors[:max_factors]])


def _top_mean(values: np.ndarray, k: int = 3) -> float:
    if values.size == 0:
        return 0.0
    return float(np.sort(values)[-k:].mean())


class ConfidenceScorer:
    """Computes the features of an answer and scores them with a :class:`ConfidenceModel`.

    Args:
        embedder: Shared with the composer (pass the same :class:`~grounddesk.agent.compose.CachedEmbedder`
            so the sentence vectors are computed once).
        model: The confidence model; None uses the packaged calibration.
        compose_settings: Which sentences of the hits count as candidates (the composer's settings).
    """

    def __init__(
        self,
        embedder: Embedder,
        model: ConfidenceModel | None = None,
        compose_settings: ComposeSettings | None = None,
    ) -> None:
        self.embedder = embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder)
        self.model = model or ConfidenceModel()
        self.compose_settings = compose_settings or ComposeSettings()

    def features(
        self,
        question: str,
        hits: Sequence[Hit],
        draft: Draft,
        *,
        route: Route | None = None,
        guard: GuardResult | None = None,
        message: str | None = None,
        query_vector: Sequence[float] | None = None,
    ) -> ConfidenceFeatures:
        """The features of ``draft`` as an answer to ``question`` from ``hits``.

        Args:
            question: The standalone retrieval query.
            hits: The hits the draft was composed from, best first.
            draft: The composed (or generated and support-checked) answer.
            route: The router's reading of the turn (certainty, out-of-scope); None counts as certain.
            guard: What the guard found; None counts as nothing found.
            message: The customer's own words when the query was rewritten from them.
            query_vector: The question's embedding when the caller has it.
        """
        top = hits[: self.compose_settings.max_hits]
        f = ConfidenceFeatures(
            router_score=route.score if route is not None else 1.0,
            out_of_scope=float(route.out_of_scope) if route is not None else 0.0,
            injection=float(bool(guard and guard.injection)),
            sensitive=float(bool(guard and guard.topics)),
        )
        if draft.sentences:
            supports = [s.support for s in draft.sentences]
            f.support_mean, f.support_min = sum(supports) / len(supports), min(supports)
        if not top:
            return f
        dense = [h.dense_score for h in top if h.dense_score is not None]
        sparse = [h.sparse_score for h in top if h.sparse_score is not None]
        f.fused_top = top[0].score
        f.margin = top[0].score - top[1].score if len(top) > 1 else top[0].score
        f.dense_top = max(dense, default=0.0)
        f.sparse_top = math.log1p(max(max(sparse, default=0.0), 0.0))
        candidates = candidate_sentences(top, self.compose_settings)
        if not candidates:
            return f
        vectors = self.embedder.matrix([c.text for c in candidates])
        qv = np.asarray(query_vector if query_vector is not None else self.embedder.embed_query(question), np.float32)
        f.sentence_match = _top_mean(vectors @ qv)
        if message and message.strip() != question.strip():
            f.message_match = _top_mean(vectors @ np.asarray(self.embedder.embed_query(message), np.float32))
        else:
            f.message_match = f.sentence_match
        terms = set(tokenize(question))
        if terms:
            f.term_coverage = max(len(terms & set(tokenize(c.text))) / len(terms) for c in candidates)
        if draft.sentences:
            answer = self.embedder.matrix([s.text for s in draft.sentences]).mean(axis=0)
            answer /= float(np.linalg.norm(answer)) or 1.0
            f.answer_match = float(answer @ qv)
            closeness = vectors @ answer
            agreeing = {top[c.hit].doc_id for c, v in zip(candidates, closeness, strict=True) if v >= _AGREE_COSINE}
            f.agreement = float(len(agreeing))
        return f

    def score(
        self,
        question: str,
        hits: Sequence[Hit],
        draft: Draft,
        *,
        route: Route | None = None,
        guard: GuardResult | None = None,
        message: str | None = None,
        query_vector: Sequence[float] | None = None,
    ) -> Confidence:
        """The calibrated confidence of ``draft`` (see :meth:`features` for the arguments)."""
        features = self.features(
            question, hits, draft, route=route, guard=guard, message=message, query_vector=query_vector
        )
        return self.model.confidence(features)
