"""The deterministic intent router: which playbook intent a message is, its slots, or out of scope.

:class:`EmbeddingRouter` embeds the playbook's examples once (cached on disk), fits a multinomial logistic
regression on them, and scores a message by two signals: the regression's probability of its best intent and
the mean cosine similarity of the message to that intent's ``k`` nearest examples. The probability separates
intents that share words; the similarity says whether the message looks like anything the playbook was taught.
Their weighted mean is the route's score, and a message scoring under the out-of-scope threshold is rejected.

The threshold is learned from the playbook alone: each example is scored by a model fitted without its fold
(cross-validation), and the threshold is the score that rejects ``in_scope_rejection`` of those examples.
Out-of-scope examples in the playbook become one more class that a message can fall into.

Example:
    >>> router = EmbeddingRouter(load_playbook(), embedder, cache_dir=home / "cache")  # doctest: +SKIP
    >>> router.route("where is my order NW-1048273?").slots  # doctest: +SKIP
    {'order_id': 'NW-1048273'}
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from grounddesk.agent.playbook import Playbook
from grounddesk.agent.rewrite import content_words, rewrite_followup
from grounddesk.agent.types import Route
from grounddesk.config import RouterSettings
from grounddesk.knowledge.types import Embedder

__all__ = ["EmbeddingRouter", "IntentRouter", "RouterSettings", "Scored", "embed_cached"]

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
ProgressFn = Callable[[int, int, str], None]
_EMBED_BATCH = 256
_FEW = 4  # up to this many texts are embedded one by one as queries
_ABSENT = -1e9  # logit of a class a fold never saw
_PROBE = "Where is my order? It was supposed to arrive on Tuesday."


@runtime_checkable
class IntentRouter(Protocol):
    """Turns a customer message into a :class:`~grounddesk.agent.types.Route`."""

    def route(self, text: str, *, history: Sequence[str] = ()) -> Route:
        """Route ``text``; ``history`` holds the customer's earlier messages, oldest first."""
        ...


@dataclass(frozen=True)
class Scored:
    """The classifier's verdict on one text before slots: best intent, score, and whether it is in scope."""

    intent: str
    score: float
    probability: float
    similarity: float
    in_scope: bool


@dataclass(frozen=True)
class _Model:
    coef: Matrix  # (classes, dim): one row per intent, then one for out-of-scope when the playbook has negatives
    intercept: Matrix
    center: Matrix
    scale: float


class EmbeddingRouter:
    """An :class:`IntentRouter` over sentence embeddings of the playbook's examples.

    Args:
        playbook: The intents, their examples and slots.
        embedder: Embeds the examples (once, then cached) and each routed message.
        settings: Decision settings.
        cache_dir: Where example embeddings and the fitted model are kept between runs; None keeps nothing.
        model_id: Names the embedding model in the cache key (e.g. ``settings.embedding.model``); by default a
            hash of the embedder's vector for a fixed probe sentence, so another model never reads these files.
        progress: Called as ``progress(done, total, "examples")`` while examples are embedded.
    """

    def __init__(
        self,
        playbook: Playbook,
        embedder: Embedder,
        settings: RouterSettings | None = None,
        *,
        cache_dir: Path | None = None,
        model_id: str | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.playbook = playbook
        self.settings = settings or RouterSettings()
        self._embedder = embedder
        self._cache_dir = cache_dir
        self._model_id = model_id or (_fingerprint(embedder) if cache_dir is not None else "")
        self._intents = [i.name for i in playbook.intents]
        texts = [e for i in playbook.intents for e in i.examples]
        self._labels = np.array([n for n, i in enumerate(playbook.intents) for _ in i.examples], dtype=np.int64)
        vectors = self._embed_cached([*texts, *playbook.out_of_scope_examples], progress)
        self._examples = vectors[: len(texts)]
        self._negatives = vectors[len(texts) :]
        self._model, self.threshold = self._fit_cached()

    # ----------------------------------------------------------------------------------------------- routing

    def route(self, text: str, *, history: Sequence[str] = ()) -> Route:
        """Route one message.

        A follow-up ("what about Canada?") that is not in scope on its own is scored again as rewritten with the
        history; a message that is little more than a slot value ("NW-1048273") continues the previous message's
        intent. Slots come from the message first, then from the history, newest first. ``Route.query`` is the
        follow-up rewritten by :func:`~grounddesk.agent.rewrite.rewrite_followup`, or the message itself.
        """
        query = rewrite_followup(text, [("user", h) for h in history]) if history else text.strip()
        # A bare slot value says nothing about intent on its own: read it with the message it answers.
        candidates = [f"{history[-1]} {text}" if history and self._only_slots(text) else text]
        if history and query != text.strip():
            candidates.append(query)
        scored = self.score_texts(candidates)
        best = scored[0]
        for alternative in scored[1:]:
            if not best.in_scope and (alternative.in_scope or alternative.score > best.score):
                best = alternative
        return self._to_route(best, text, history, query)

    def score_texts(self, texts: Sequence[str]) -> list[Scored]:
        """Classifier verdicts for texts, without slots."""
        if len(texts) <= _FEW:  # one message: the embedder's query path is tuned for latency
            rows = [self._embedder.embed_query(t) for t in texts]
        else:
            rows = self._embedder.embed_documents(list(texts))
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
        return self.score_vectors(vectors)

    def score_vectors(self, vectors: Matrix) -> list[Scored]:
        """Classifier verdicts for already embedded texts (L2-normalised rows)."""
        pred, probability, similarity, negative = _score(
            self._model, self._examples, self._labels, len(self._intents), vectors, self.settings.k
        )
        w = self.settings.probability_weight
        combined = np.clip(w * probability + (1 - w) * similarity, 0.0, 1.0)
        return [
            Scored(
                intent=self._intents[int(p)],
                score=float(s),
                probability=float(pr),
                similarity=float(sim),
                in_scope=bool(s >= self.threshold and not neg),
            )
            for p, s, pr, sim, neg in zip(pred, combined, probability, similarity, negative, strict=True)
        ]

    def _only_slots(self, text: str) -> bool:
        spans = sorted(self.playbook.slot_spans(text))
        if not spans:
            return False
        rest, cursor = [], 0
        for start, end in spans:
            rest.append(text[cursor:start])
            cursor = max(cursor, end)
        rest.append(text[cursor:])
        return len(content_words(" ".join(rest))) <= 1

    def _to_route(self, scored: Scored, text: str, history: Sequence[str], query: str) -> Route:
        if not scored.in_scope:
            return Route(intent=None, score=scored.score, out_of_scope=True, query=query)
        intent = self.playbook.intent(scored.intent)
        names = [slot.name for slot in intent.slots]
        slots = self.playbook.extract_slots(text, names)
        for earlier in reversed(history):
            missing_here = [n for n in names if n not in slots]
            if not missing_here:
                break
            slots.update(self.playbook.extract_slots(earlier, missing_here))
        missing = [n for n in intent.required_slots if n not in slots]
        mode = "clarify" if missing else intent.mode
        return Route(
            intent=intent.name,
            score=scored.score,
            mode=mode,
            tool=intent.tool,
            slots=slots,
            missing_slots=missing,
            query=query,
        )

    # ------------------------------------------------------------------------------------ fitting and cache

    def _cache_file(self, kind: str, key: object) -> Path | None:
        if self._cache_dir is None:
            return None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
        return self._cache_dir / f"{kind}-{digest}.npz"

    def _embed_cached(self, texts: list[str], progress: ProgressFn | None) -> Matrix:
        return embed_cached(
            self._embedder, texts, cache_dir=self._cache_dir, model_id=self._model_id, progress=progress
        )

    def _fit_cached(self) -> tuple[_Model, float]:
        fit_settings = self.settings.model_dump(
            include={"k", "probability_weight", "in_scope_rejection", "cv_folds", "l2", "max_iter"}
        )
        path = self._cache_file(
            "router", {"model": self._model_id, "playbook": self.playbook.fingerprint(), "fit": fit_settings, "v": 1}
        )
        if path is not None and path.is_file():
            with np.load(path) as data:
                model = _Model(data["coef"], data["intercept"], data["center"], float(data["scale"]))
                learned = float(data["threshold"])
        else:
            model = self._fit(self._examples, self._labels)
            learned = self._cross_validated_threshold()
            if path is not None:
                _save(
                    path,
                    coef=model.coef,
                    intercept=model.intercept,
                    center=model.center,
                    scale=np.float64(model.scale),
                    threshold=np.float64(learned),
                )
        threshold = self.settings.oos_threshold if self.settings.oos_threshold is not None else learned
        logger.info("router ready", extra={"intents": len(self._intents), "threshold": round(threshold, 4)})
        return model, threshold

    def _fit(self, examples: Matrix, labels: npt.NDArray[np.int64]) -> _Model:
        return _fit_logistic(
            examples, labels, self._negatives, len(self._intents), l2=self.settings.l2, max_iter=self.settings.max_iter
        )

    def _cross_validated_threshold(self) -> float:
        folds = self.settings.cv_folds
        # Stratified and deterministic: the i-th example of each intent goes to fold i mod folds.
        fold = np.zeros(len(self._labels), dtype=np.int64)
        for label in np.unique(self._labels):
            where = np.flatnonzero(self._labels == label)
            fold[where] = np.arange(len(where)) % folds
        held_out = np.zeros(len(self._labels), dtype=np.float64)
        w = self.settings.probability_weight
        for f in range(folds):
            train, test = fold != f, fold == f
            if not test.any():
                continue
            model = self._fit(self._examples[train], self._labels[train])
            _, prob, sim, _ = _score(
                model,
                self._examples[train],
                self._labels[train],
                len(self._intents),
                self._examples[test],
                self.settings.k,
            )
            held_out[test] = np.clip(w * prob + (1 - w) * sim, 0, 1)
        return float(np.quantile(held_out, self.settings.in_scope_rejection))


def _standardise(model: _Model, vectors: Matrix) -> Matrix:
    return (vectors - model.center) / model.scale


def _fit_logistic(
    examples: Matrix,
    labels: npt.NDArray[np.int64],
    negatives: Matrix,
    n_intents: int,
    *,
    l2: float,
    max_iter: int,
) -> _Model:
    """Multinomial logistic regression on centred, uniformly scaled embeddings (scikit-learn, lbfgs)."""
    center = examples.mean(axis=0).astype(np.float32)
    scale = float(np.sqrt(((examples - center) ** 2).mean())) or 1.0
    n_classes = n_intents + (1 if len(negatives) else 0)
    x = np.vstack([examples, negatives]) if len(negatives) else examples
    y = np.concatenate([labels, np.full(len(negatives), n_intents, dtype=np.int64)])
    coef = np.zeros((n_classes, examples.shape[1]), dtype=np.float32)
    intercept = np.full(n_classes, _ABSENT, dtype=np.float32)
    present = np.unique(y)
    model = _Model(coef, intercept, center, scale)
    if len(present) < 2:
        intercept[present] = 0.0
        return model
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    # sklearn's C multiplies the summed loss; a per-example penalty keeps the fit alike for 200 or 15,000 examples.
    lr = LogisticRegression(C=1.0 / (l2 * len(y)), max_iter=max_iter, tol=1e-3)
    lr.fit(_standardise(model, x), y)
    classes = lr.classes_.astype(np.int64)
    if len(classes) == 2:  # binary problems come back as one row: logit of class 1 against class 0
        coef[classes[1]] = lr.coef_[0]
        intercept[classes] = [0.0, float(lr.intercept_[0])]
    else:
        coef[classes] = lr.coef_
        intercept[classes] = lr.intercept_
    return model


def _score(
    model: _Model, examples: Matrix, labels: npt.NDArray[np.int64], n_intents: int, vectors: Matrix, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Best intent, its probability, its top-k example similarity, and whether out-of-scope won, per vector."""
    logits = _standardise(model, vectors) @ model.coef.T + model.intercept
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits.astype(np.float64))
    probs /= probs.sum(axis=1, keepdims=True)
    in_scope = probs[:, :n_intents]
    pred = in_scope.argmax(axis=1)
    probability = in_scope.max(axis=1)
    negative = probs[:, n_intents] > probability if probs.shape[1] > n_intents else np.zeros(len(pred), dtype=bool)
    sims = vectors @ examples.T
    similarity = np.zeros(len(pred), dtype=np.float64)
    for label in np.unique(pred):
        rows = np.flatnonzero(pred == label)
        cols = np.flatnonzero(labels == label)
        if len(cols) == 0:
            continue
        block = sims[np.ix_(rows, cols)]
        top = min(k, len(cols))
        similarity[rows] = np.sort(block, axis=1)[:, -top:].mean(axis=1)
    return pred.astype(np.int64), probability, similarity, negative


def _fingerprint(embedder: Embedder) -> str:
    probe = np.asarray(embedder.embed_documents([_PROBE])[0], dtype=np.float64)
    return f"probe:{len(probe)}:{hashlib.sha256(np.round(probe, 4).tobytes()).hexdigest()[:16]}"


def embed_cached(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    cache_dir: Path | None,
    model_id: str,
    progress: ProgressFn | None = None,
    label: str = "examples",
) -> Matrix:
    """Embeddings of ``texts`` as a float32 matrix, kept in ``cache_dir`` under a hash of the model and texts.

    Args:
        embedder: Embeds what is not cached yet.
        texts: The texts, in order.
        cache_dir: Folder of the ``.npz`` cache files; None embeds every time.
        model_id: Names the model in the cache key (a different model never reads another's vectors).
        progress: Called as ``progress(done, total, label)`` after each batch.
        label: What the progress reports.
    """
    key = json.dumps({"model": model_id, "texts": list(texts)}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    path = cache_dir / f"embeddings-{digest}.npz" if cache_dir is not None else None
    if path is not None and path.is_file():
        with np.load(path) as data:
            cached: Matrix = data["vectors"]
        if cached.shape[0] == len(texts):
            return cached
    rows: list[list[float]] = []
    for start in range(0, len(texts), _EMBED_BATCH):
        rows.extend(embedder.embed_documents(list(texts[start : start + _EMBED_BATCH])))
        if progress:
            progress(min(start + _EMBED_BATCH, len(texts)), len(texts), label)
    vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)
    if path is not None:
        _save(path, vectors=vectors)
    return vectors


def _save(path: Path, **arrays: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is as readable as the rest of the home
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
