"""The command-line contract of ``grounddesk kb`` with the real embedding model and embedded Qdrant."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grounddesk.cli import app

pytestmark = pytest.mark.model

RETURNS = (
    "---\nid: returns\ntitle: Returns policy\n---\n"
    "# Returns\n\n## Window\n\nYou can return unworn items within 30 days.\n"
)
WARRANTY = "# Warranty\n\nTents and backpacks carry a two-year warranty against manufacturing defects.\n"
INTERNAL = "---\nid: playbook\naudience: internal\n---\n# Playbook\n\nRefunds above 500 dollars need a supervisor.\n"


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--home", str(home), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "returns.md").write_text(RETURNS)
    (folder / "warranty.md").write_text(WARRANTY)
    (folder / "playbook.md").write_text(INTERNAL)
    return folder


def test_import_search_approve_retire_delete(tmp_path: Path, docs: Path) -> None:
    home = tmp_path / "home"
    code, out, _ = _run(home, "kb", "import", str(docs), "--audience", "public", "--owner", "kim", "--json")
    assert code == 0
    report = json.loads(out)
    assert set(report) == {"imported", "unchanged", "errors"}
    assert sorted(i["doc_id"] for i in report["imported"]) == ["playbook", "returns", "warranty"]
    assert all(i["status"] == "draft" and i["version"] == 1 and i["chunks"] >= 1 for i in report["imported"])

    code, out, _ = _run(home, "kb", "search", "how long can I return items?", "--json")
    assert code == 0 and json.loads(out)["hits"] == []  # drafts are never found

    for doc_id in ("returns", "warranty", "playbook"):
        assert _run(home, "kb", "approve", doc_id)[0] == 0
    code, out, _ = _run(home, "kb", "search", "how long can I return items?", "--top-k", "2", "--json")
    result = json.loads(out)
    assert result["hits"][0]["doc_id"] == "returns" and result["hits"][0]["version"] == 1
    assert set(result["hits"][0]) >= {"doc_id", "version", "title", "text", "score"}
    assert result["hits"][0]["title"] == "Returns policy"
    assert isinstance(result["took_ms"], float)

    _, out, _ = _run(home, "kb", "search", "supervisor refunds above 500", "--top-k", "10", "--json")
    assert "playbook" not in {h["doc_id"] for h in json.loads(out)["hits"]}
    _, out, _ = _run(home, "kb", "search", "supervisor refunds above 500", "-a", "internal", "--json")
    assert json.loads(out)["hits"][0]["doc_id"] == "playbook"

    code, out, _ = _run(home, "kb", "list", "--json")
    assert {d["doc_id"]: d["status"] for d in json.loads(out)["documents"]} == {
        "playbook": "approved",
        "returns": "approved",
        "warranty": "approved",
    }
    code, out, _ = _run(home, "kb", "show", "returns", "--json")
    shown = json.loads(out)
    assert shown["versions"][0]["owner"] == "kim" and [h["action"] for h in shown["history"]][:1] == ["imported"]

    (docs / "returns.md").write_text(RETURNS.replace("30 days", "60 days"))
    _, out, _ = _run(home, "kb", "import", str(docs / "returns.md"), "--json")
    assert json.loads(out)["imported"][0]["version"] == 2
    _, out, _ = _run(home, "kb", "import", str(docs), "--json")
    assert len(json.loads(out)["unchanged"]) == 3

    assert _run(home, "kb", "approve", "returns", "--version", "2")[0] == 0
    _, out, _ = _run(home, "kb", "search", "how long can I return items?", "--top-k", "3", "--json")
    assert {(h["doc_id"], h["version"]) for h in json.loads(out)["hits"] if h["doc_id"] == "returns"} == {
        ("returns", 2)
    }

    assert _run(home, "kb", "retire", "warranty")[0] == 0
    _, out, _ = _run(home, "kb", "search", "warranty tents", "--json")
    assert "warranty" not in {h["doc_id"] for h in json.loads(out)["hits"]}

    code, out, _ = _run(home, "kb", "delete", "returns", "--json")
    deleted = json.loads(out)
    assert (
        code == 0 and deleted["chunks"] >= 1 and deleted["files"] >= 2 and deleted["sql_rows"]["document_versions"] == 2
    )
    code, out, _ = _run(home, "kb", "show", "returns", "--json")
    assert code == 2 and json.loads(out)["code"] == "document_not_found"


def test_import_reports_each_failed_file_and_exits_non_zero(tmp_path: Path, docs: Path) -> None:
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (docs / "notes.xyz").write_text("unsupported")
    code, out, _ = _run(tmp_path / "home", "kb", "import", str(docs), "--json")
    assert code == 1
    report = json.loads(out)
    assert len(report["imported"]) == 3
    assert {(Path(e["path"]).name, e["code"]) for e in report["errors"]} == {
        ("broken.pdf", "corrupt_file"),
        ("notes.xyz", "unsupported_format"),
    }


def test_the_installed_command_prints_one_json_document(tmp_path: Path, docs: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grounddesk",
            "--home",
            str(tmp_path / "h"),
            "kb",
            "import",
            str(docs / "warranty.md"),
            "--approve",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["imported"][0]["status"] == "approved"


def test_demo_sets_up_an_approved_help_centre_with_internal_knowledge_kept_internal(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    code, _, _ = _run(home, "demo", "--no-serve")
    assert code == 0
    _, out, _ = _run(home, "kb", "list", "--json")
    documents = json.loads(out)["documents"]
    assert len(documents) >= 20 and {d["status"] for d in documents} == {"approved"}
    internal = [d for d in documents if d["audiences"] == ["internal"]]
    assert [d["doc_id"] for d in internal] == ["agent-playbook-refunds-fraud-verification"]
    _, out, _ = _run(home, "kb", "search", "refund supervisor approval fraud signals", "--top-k", "20", "--json")
    assert "agent-playbook-refunds-fraud-verification" not in {h["doc_id"] for h in json.loads(out)["hits"]}
