"""The demo back-end: a fictional company's CRM and ERP in one SQLite file, filled with the seed data.

This database is *not* grounddesk's own: it stands for the company's systems, which the agent only reaches
through the :class:`DemoCRM` and :class:`DemoERP` connectors (the same Protocols Salesforce and a REST ERP
implement). Writes are idempotent natively: each idempotency key is stored with the id of the record it made,
in the write's own transaction, so the same key again returns that record and writes nothing.

Example:
    >>> DemoBackend.create(home / "demo_backend.sqlite")  # seeds an empty file; leaves a filled one alone
    True
    >>> crm, erp = DemoBackend.open(home / "demo_backend.sqlite")
    >>> crm.find_customer(email="alex.morgan@example.com").id
    'C-1001'
    >>> erp.track_shipment("A1001")[0].tracking_number
    '1Z999AA10123456784'
    >>> crm.close(); erp.close()
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, RowMapping

from grounddesk.connectors import _demo_schema as t
from grounddesk.connectors._demo_base import DemoConnectorBase, revalidate, sqlite_url
from grounddesk.connectors._demo_erp import DemoERP
from grounddesk.connectors.types import (
    Account,
    Case,
    CaseComment,
    CaseStatus,
    ConnectorValidationError,
    Customer,
    NewCase,
    RecordNotFound,
)
from grounddesk.db.engine import create_engine_for
from grounddesk.demo.seed import SeedData, generate_seed
from grounddesk.errors import ConfigurationError

__all__ = ["DemoBackend", "DemoCRM", "DemoERP"]

logger = logging.getLogger(__name__)


class DemoCRM(DemoConnectorBase):
    """Customers, accounts and cases of the demo back-end.

    Example:
        >>> crm = DemoCRM(tmp_path / "demo.sqlite")
        >>> case = crm.create_case(NewCase(customer_id="C-1001", subject="Lamp flickers"), idempotency_key="k1")
        >>> crm.create_case(NewCase(customer_id="C-1001", subject="Lamp flickers"), idempotency_key="k1") == case
        True
    """

    name = "demo-crm"
    kind = "crm"

    def find_customer(
        self, *, email: str | None = None, phone: str | None = None, customer_id: str | None = None
    ) -> Customer | None:
        """The customer with this email (any case), phone number (any punctuation) or customer number.

        Raises:
            ConnectorValidationError: Not exactly one of the three was given.
        """
        given = [value for value in (email, phone, customer_id) if value is not None]
        if len(given) != 1:
            raise ConnectorValidationError(
                "Give exactly one of email, phone or customer_id to find a customer", connector=self.name
            )
        if email is not None:
            condition = t.customers.c.email_lower == email.strip().lower()
        elif phone is not None:
            condition = t.customers.c.phone_digits == t.phone_digits(phone)
        else:
            condition = t.customers.c.id == customer_id
        with self._read() as conn:
            row = conn.execute(select(t.customers).where(condition).order_by(t.customers.c.id).limit(1)).first()
        return None if row is None else _customer(row._mapping)

    def get_account(self, account_id: str) -> Account:
        """An account by id.

        Raises:
            RecordNotFound: No such account (``kind="account"``).
        """
        with self._read() as conn:
            row = conn.execute(select(t.accounts).where(t.accounts.c.id == account_id)).first()
        if row is None:
            raise RecordNotFound(f"No account {account_id}", connector=self.name, kind="account", key=account_id)
        return Account.model_validate(dict(row._mapping))

    def list_cases(
        self, customer_id: str, *, statuses: Sequence[CaseStatus] | None = None, limit: int = 20
    ) -> list[Case]:
        """A customer's cases, newest first, without comments (an unknown customer has none)."""
        if limit < 1:
            raise ConnectorValidationError("limit must be at least 1", connector=self.name, limit=limit)
        query = select(t.cases).where(t.cases.c.customer_id == customer_id)
        if statuses is not None:
            query = query.where(t.cases.c.status.in_([CaseStatus(status).value for status in statuses]))
        query = query.order_by(t.cases.c.created_at.desc(), t.cases.c.seq.desc()).limit(limit)
        with self._read() as conn:
            return [_case(row._mapping, ()) for row in conn.execute(query)]

    def get_case(self, number: str) -> Case:
        """A case with its comments, oldest first.

        Raises:
            RecordNotFound: No such case (``kind="case"``).
        """
        with self._read() as conn:
            return self._load_case(conn, number)

    def create_case(self, case: NewCase, *, idempotency_key: str) -> Case:
        """Open a case with status ``new``; the same key again returns the case the first call made.

        Raises:
            RecordNotFound: The customer does not exist (``kind="customer"``).
            ConnectorValidationError: A blank subject or invalid fields; no case is created.
        """
        case = revalidate(NewCase, case, self.name)
        if not case.subject.strip():
            raise ConnectorValidationError("A case needs a subject", connector=self.name, field="subject")

        def write(conn: Connection) -> str:
            self._require_customer(conn, case.customer_id)
            last = conn.execute(select(func.max(t.cases.c.seq))).scalar_one_or_none()
            seq = max(last or 0, 1000) + 1
            number = f"{seq:08d}"
            now = self._now()
            conn.execute(
                t.cases.insert().values(
                    number=number,
                    seq=seq,
                    customer_id=case.customer_id,
                    subject=case.subject.strip(),
                    description=case.description,
                    status=CaseStatus.NEW.value,
                    priority=case.priority,
                    origin=case.origin,
                    created_at=now,
                    updated_at=now,
                )
            )
            return number

        return self.get_case(self._write_once("create_case", idempotency_key, write))

    def add_case_comment(self, number: str, body: str, *, idempotency_key: str, public: bool = True) -> CaseComment:
        """Comment on a case (it moves the case's ``updated_at``); the same key again returns the first comment.

        Raises:
            RecordNotFound: No such case.
            ConnectorValidationError: A blank or over-long body.
        """
        if not body.strip() or len(body) > 32_000:
            raise ConnectorValidationError(
                "A comment needs 1 to 32,000 characters", connector=self.name, field="body", length=len(body)
            )

        def write(conn: Connection) -> str:
            self._require_case(conn, number)
            count = conn.execute(
                select(func.count()).select_from(t.case_comments).where(t.case_comments.c.case_number == number)
            ).scalar_one()
            comment_id = f"CMT-{number}-{count + 1}"
            now = self._now()
            conn.execute(
                t.case_comments.insert().values(
                    id=comment_id, case_number=number, position=count, body=body, public=public, created_at=now
                )
            )
            conn.execute(update(t.cases).where(t.cases.c.number == number).values(updated_at=now))
            return comment_id

        comment_id = self._write_once("add_case_comment", idempotency_key, write)
        with self._read() as conn:
            row = conn.execute(select(t.case_comments).where(t.case_comments.c.id == comment_id)).one()
        return _comment(row._mapping)

    def update_case_status(self, number: str, status: CaseStatus, *, idempotency_key: str) -> Case:
        """Move a case to ``status``; the same key again changes nothing and returns the case.

        Raises:
            RecordNotFound: No such case.
            ConnectorValidationError: ``status`` is not a case status.
        """
        try:
            new_status = CaseStatus(status)
        except ValueError as exc:
            raise ConnectorValidationError(
                f"Unknown case status {status!r}", connector=self.name, field="status"
            ) from exc

        def write(conn: Connection) -> str:
            self._require_case(conn, number)
            conn.execute(
                update(t.cases)
                .where(t.cases.c.number == number)
                .values(status=new_status.value, updated_at=self._now())
            )
            return number

        return self.get_case(self._write_once("update_case_status", idempotency_key, write))

    # -- helpers -------------------------------------------------------------------------------------------

    def _require_customer(self, conn: Connection, customer_id: str) -> None:
        if conn.execute(select(t.customers.c.id).where(t.customers.c.id == customer_id)).first() is None:
            raise RecordNotFound(f"No customer {customer_id}", connector=self.name, kind="customer", key=customer_id)

    def _require_case(self, conn: Connection, number: str) -> None:
        if conn.execute(select(t.cases.c.number).where(t.cases.c.number == number)).first() is None:
            raise RecordNotFound(f"No case {number}", connector=self.name, kind="case", key=number)

    def _load_case(self, conn: Connection, number: str) -> Case:
        row = conn.execute(select(t.cases).where(t.cases.c.number == number)).first()
        if row is None:
            raise RecordNotFound(f"No case {number}", connector=self.name, kind="case", key=number)
        comments = conn.execute(
            select(t.case_comments).where(t.case_comments.c.case_number == number).order_by(t.case_comments.c.position)
        )
        return _case(row._mapping, tuple(_comment(c._mapping) for c in comments))


class DemoBackend:
    """Creates and opens the demo back-end file. Both operations are safe to repeat.

    Example:
        >>> DemoBackend.create(path)  # or DemoBackend.create(path, generate_seed(seed=3))
        >>> crm, erp = DemoBackend.open(path)
    """

    @staticmethod
    def create(path: str | Path, seed: SeedData | None = None) -> bool:
        """Create the file and its tables, and load ``seed`` if the back-end holds no data yet.

        A back-end that already holds data is left as it is (writes made since are kept). Concurrent calls
        are safe: the check and the load run in one write transaction.

        Args:
            path: The SQLite file (its folder is created).
            seed: The records to load; defaults to ``generate_seed()``.

        Returns:
            Whether the seed was loaded (``False``: the back-end already held data).

        Raises:
            ConnectorUnavailable: The database could not be written.
        """
        engine = create_engine_for(sqlite_url(path))
        crm = DemoCRM(engine)  # creates the tables; maps database errors
        try:
            with crm._guard(), engine.begin() as conn:
                if t.has_data(conn):
                    return False
                data = seed if seed is not None else generate_seed()
                t.load_seed(conn, data)
            logger.info(
                "demo back-end seeded",
                extra={"customers": len(data.customers), "orders": len(data.orders), "cases": len(data.cases)},
            )
            return True
        finally:
            engine.dispose()

    @staticmethod
    def open(path: str | Path) -> tuple[DemoCRM, DemoERP]:
        """The CRM and ERP connectors on an existing back-end file; the caller closes both.

        Raises:
            ConfigurationError: There is no file at ``path`` (run :meth:`create` first).
        """
        if not Path(path).expanduser().is_file():
            raise ConfigurationError(
                f"No demo back-end at {path}: create it first with DemoBackend.create(path)", path=str(path)
            )
        return DemoCRM(path), DemoERP(path)


def _customer(row: RowMapping) -> Customer:
    return Customer(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        account_id=row["account_id"],
        tier=row["tier"],
    )


def _comment(row: RowMapping) -> CaseComment:
    return CaseComment(id=row["id"], body=row["body"], created_at=row["created_at"], public=row["public"])


def _case(row: RowMapping, comments: tuple[CaseComment, ...]) -> Case:
    return Case(
        number=row["number"],
        customer_id=row["customer_id"],
        subject=row["subject"],
        description=row["description"],
        status=row["status"],
        priority=row["priority"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        comments=comments,
    )
