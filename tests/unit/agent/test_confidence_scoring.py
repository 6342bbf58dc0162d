"""Confidence: features from hits and draft, the calibrated score, and its reasons in plain words."""

from __future__ import annotations

import pytest

from grounddesk.agent.calibration import CalibrationFile, Calibrator, LinearModel, PriorWeight
from grounddesk.agent.compose import ExtractiveComposer
from grounddesk.agent.confidence import (
    DEFAULT_PRIORS,
    FITTED_FEATURES,
    ConfidenceFeatures,
    ConfidenceModel,
    ConfidenceScorer,
)
from grounddesk.agent.types import Draft, GuardResult, Route, TopicMatch
from grounddesk.knowledge.search import Hit
from grounddesk.testing.embedders import HashingEmbedder


def hit(doc_id: str, text: str, score: float, dense: float | None, sparse: float | None) -> Hit:
    return Hit(
        chunk_id=f"{doc_id}@1#0",
        doc_id=doc_id,
        version=1,
        title=doc_id,
        heading_path=[],
        text=text,
        score=score,
        dense_score=dense,
        sparse_score=sparse,
    )


def calibration(**weights: float) -> CalibrationFile:
    names = list(weights) or ["dense_top"]
    model = LinearModel(
        features=names,
        mean=[0.5] * len(names),
        scale=[0.1] * len(names),
        weights=[weights.get(n, 1.0) for n in names],
        bias=0.0,
    )
    return CalibrationFile(model=model, priors=DEFAULT_PRIORS, calibrator=Calibrator(kind="platt", a=1.0, b=0.0))


def test_the_score_rises_with_a_positively_weighted_feature_and_stays_in_0_1() -> None:
    model = ConfidenceModel(calibration(dense_top=1.0, agreement=0.5))
    scores = [model.confidence({"dense_top": x / 10, "agreement": 1.0}).score for x in range(11)]
    assert scores == sorted(scores)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[-1] > 0.9 > 0.1 > scores[0]


def test_reasons_come_in_plain_words_most_important_first() -> None:
    model = ConfidenceModel(calibration(dense_top=1.0, agreement=0.2))
    confident = model.confidence({"dense_top": 0.9, "agreement": 2.0, "support_min": 1.0, "router_score": 1.0})
    assert confident.reasons == ["the best source matches the question closely", "two approved sources agree"]
    assert [f.name for f in confident.factors] == ["dense_top", "agreement"]
    assert confident.factors[1].value == 2.0
    assert confident.raw == pytest.approx(4.0 + 0.2 * 15)

    doubtful = model.confidence({"dense_top": 0.2, "agreement": 0.0, "out_of_scope": 1.0, "support_min": 0.5})
    assert doubtful.reasons[:3] == [
        "the question is outside what the knowledge base covers",  # prior -5
        "no source matches the question closely",  # -3
        "the answer's sentences are only weakly supported by the sources",  # 4 x (0.5 - 1) = -2
    ]
    assert doubtful.score < 0.01


def test_guard_flags_and_router_doubt_lower_the_confidence() -> None:
    model = ConfidenceModel(calibration(dense_top=1.0))
    base = ConfidenceFeatures(dense_top=0.6, support_min=1.0, support_mean=1.0)
    plain = model.confidence(base).score
    for change, phrase in [
        ({"injection": 1.0}, "the message tries to change the assistant's instructions"),
        ({"sensitive": 1.0}, "the message touches a sensitive topic"),
        ({"router_score": 0.4}, "it is unclear what the customer wants"),
    ]:
        lowered = model.confidence(base.model_copy(update=change))
        assert lowered.score < plain
        assert phrase in lowered.reasons


def make_hits() -> list[Hit]:
    return [
        hit("returns", "You can return unworn items within 30 days of delivery. Labels cost $6.95.", 0.95, 0.71, 8.0),
        hit("faq", "Refunds: you can return unworn items within 30 days of delivery.", 0.80, 0.64, 6.5),
        hit("shipping", "Standard shipping takes 3 to 5 business days.", 0.40, None, 1.2),
    ]


def test_features_are_read_from_the_hits_and_the_draft() -> None:
    embedder = HashingEmbedder()
    hits = make_hits()
    question = "can I return unworn items within 30 days"
    draft = ExtractiveComposer(embedder).compose(question, hits)
    f = ConfidenceScorer(embedder, ConfidenceModel(calibration())).features(question, hits, draft)
    assert f.fused_top == 0.95
    assert f.margin == pytest.approx(0.15)
    assert f.dense_top == 0.71  # the best dense cosine among the hits; a hit without one is skipped
    assert f.sparse_top == pytest.approx(2.1972, abs=1e-4)  # log(1 + 8)
    assert f.support_min == f.support_mean == 1.0
    assert 0.0 < f.sentence_match <= 1.0
    assert f.message_match == f.sentence_match  # no separate customer message
    assert f.term_coverage == 1.0  # every content word of the question is in one sentence
    assert f.answer_match > 0.5
    assert f.agreement == 2.0  # "returns" and "faq" say nearly the same thing
    assert (f.router_score, f.out_of_scope, f.injection, f.sensitive) == (1.0, 0.0, 0.0, 0.0)


def test_route_and_guard_flags_reach_the_features() -> None:
    embedder = HashingEmbedder()
    scorer = ConfidenceScorer(embedder, ConfidenceModel(calibration()))
    guard = GuardResult(
        masked_text="x",
        injection=["ignore_previous"],
        topics=[TopicMatch(topic="legal", action="escalate", reason="legal_threat")],
    )
    route = Route(intent=None, score=0.3, out_of_scope=True)
    f = scorer.features("x", [], Draft(text=""), route=route, guard=guard, message="the customer's words")
    assert (f.router_score, f.out_of_scope, f.injection, f.sensitive) == (0.3, 1.0, 1.0, 1.0)
    assert f.fused_top == f.dense_top == f.agreement == 0.0


def test_nothing_retrieved_scores_lower_than_a_good_match_with_the_packaged_calibration() -> None:
    embedder = HashingEmbedder()
    scorer = ConfidenceScorer(embedder)  # the packaged calibration
    assert set(scorer.model.calibration.model.features) == set(FITTED_FEATURES)
    question = "can I return unworn items within 30 days"
    hits = make_hits()
    good = scorer.score(question=question, hits=hits, draft=ExtractiveComposer(embedder).compose(question, hits))
    empty = scorer.score(question=question, hits=[], draft=Draft(text=""), route=None, guard=None)
    assert 0.0 <= empty.score < good.score <= 1.0
    assert empty.reasons  # it says why
    assert "no source matches the question closely" in empty.reasons


def test_priors_are_not_fitted_features() -> None:
    assert not set(DEFAULT_PRIORS) & set(FITTED_FEATURES)
    assert all(isinstance(p, PriorWeight) for p in DEFAULT_PRIORS.values())
    assert set(ConfidenceFeatures.model_fields) == set(FITTED_FEATURES) | set(DEFAULT_PRIORS)
