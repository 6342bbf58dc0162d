"""The expected records of the connector conformance suites, taken from :func:`generate_seed`.

Comparisons use only what every back-end can reproduce: the back-end's own record ids (``record_id``,
comment ids) are left out, and case timestamps are compared only through the order they give.
"""

from __future__ import annotations

import functools
import uuid
from collections import Counter
from typing import Any

from grounddesk.connectors.types import Case, CaseStatus, Customer, Order
from grounddesk.demo.seed import SeedData, generate_seed

__all__ = [
    "WRITE_CUSTOMER",
    "case_view",
    "customer_view",
    "expected_case_numbers",
    "new_key",
    "seed",
    "seed_order",
    "busiest_customer",
]

#: The customer every write test acts for, so that the read tests hold even when fixtures share data.
WRITE_CUSTOMER = "C-1003"


@functools.cache
def seed() -> SeedData:
    """The default seed data every conformance back-end must hold."""
    return generate_seed()


def seed_order(order_id: str) -> Order:
    """A seed order by id."""
    return next(order for order in seed().orders if order.id == order_id)


def new_key() -> str:
    """A fresh idempotency key."""
    return f"conformance-{uuid.uuid4().hex}"


def customer_view(customer: Customer) -> dict[str, Any]:
    """A customer without the back-end's record id."""
    return customer.model_dump(exclude={"record_id"})


def case_view(case: Case, *, comments: bool = True) -> dict[str, Any]:
    """What every back-end agrees on about a case: fields, and comments by body and visibility."""
    view = case.model_dump(include={"number", "customer_id", "subject", "description", "status", "priority"})
    if comments:
        view["comments"] = [(comment.body, comment.public) for comment in case.comments]
    return view


def expected_case_numbers(customer_id: str, statuses: set[CaseStatus] | None = None) -> list[str]:
    """The seed's case numbers of a customer, newest first."""
    cases = [
        case
        for case in seed().cases
        if case.customer_id == customer_id and (statuses is None or case.status in statuses)
    ]
    cases.sort(key=lambda case: (case.created_at, case.number), reverse=True)
    return [case.number for case in cases]


def busiest_customer() -> str:
    """The seed customer (other than the write customer) with the most cases in more than one status."""
    counts = Counter(case.customer_id for case in seed().cases if case.customer_id != WRITE_CUSTOMER)
    statuses: dict[str, set[CaseStatus]] = {}
    for case in seed().cases:
        statuses.setdefault(case.customer_id, set()).add(case.status)
    ranked = sorted(counts, key=lambda cid: (len(statuses[cid]) > 1, counts[cid], cid), reverse=True)
    return ranked[0]
