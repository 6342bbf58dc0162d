"""The HTTP face of the Salesforce emulator: a FastAPI app over its store, logins and fault switches.

Route handlers resolve their annotations at run time, so FastAPI and its ``Request`` are imported at module level.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from grounddesk.testing._salesforce_auth import OAuthError
from grounddesk.testing._salesforce_schema import SalesforceApiError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from grounddesk.testing.salesforce_emulator import SalesforceEmulator

__all__ = ["build_app"]

_MAX_CURSORS = 1000
_BATCH_OPTION = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


class _LimitInfo:
    """ASGI middleware: stamp ``Sforce-Limit-Info`` on every response, errors and logins included."""

    def __init__(self, app: ASGIApp, emulator: SalesforceEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"sforce-limit-info", self.emulator.limit_info().encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)


class _Cursors:
    """Query results kept for ``nextRecordsUrl`` paging (the oldest are forgotten past a thousand)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._count = 0

    def page(
        self, rows: list[dict[str, Any]], *, endpoint: str, version: str, batch: int, locator: str | None = None
    ) -> dict[str, Any]:
        """The page of ``rows`` at the start of a new cursor, or at ``locator`` (``<cursor>-<offset>``)."""
        offset = 0
        if locator is None:
            with self._lock:
                self._count += 1
                cursor = f"01gGd{self._count:010d}AAA"
                self._results[cursor] = rows
                while len(self._results) > _MAX_CURSORS:
                    self._results.popitem(last=False)
        else:
            cursor, _, raw_offset = locator.rpartition("-")
            with self._lock:
                found = self._results.get(cursor)
            if found is None or not raw_offset.isdigit():
                raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            rows, offset = found, int(raw_offset)
        chunk = rows[offset : offset + batch]
        done = offset + batch >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{cursor}-{offset + batch}"
        return body


def _endpoint(method: str, parts: list[str]) -> str:
    """Name the data-API endpoint a request is for (``unknown`` when none)."""
    shape = (method, len(parts), parts[0] if parts else "")
    routes = {
        ("GET", 1, "query"): "query",
        ("GET", 1, "queryAll"): "queryAll",
        ("GET", 2, "query"): "query_more",
        ("GET", 2, "queryAll"): "query_more",
        ("GET", 1, "limits"): "limits",
        ("POST", 2, "sobjects"): "create",
        ("GET", 3, "sobjects"): "describe" if len(parts) == 3 and parts[2] == "describe" else "get",
        ("PATCH", 3, "sobjects"): "update",
        ("DELETE", 3, "sobjects"): "delete",
        ("GET", 4, "sobjects"): "get_by_external_id",
    }
    return routes.get(shape, "unknown")


def _path_parts(request: Request, version: str) -> list[str]:
    """The segments after ``/services/data/vXX.X/``, split before decoding (an external id may hold ``%2F``)."""
    raw = request.scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
    rest = raw.split(f"/services/data/v{version}/", 1)[-1]
    return [unquote(part) for part in rest.split("/") if part]


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Unexpected character in the request body") from exc
    if not isinstance(body, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
    return body


class _DataApi:
    """Answers one data-API request that was admitted (session valid, within the limits)."""

    def __init__(self, emulator: SalesforceEmulator, cursors: _Cursors, version: str, request: Request) -> None:
        self.emulator = emulator
        self.store = emulator.store
        self.cursors = cursors
        self.version = version
        self.request = request

    def _batch(self) -> int:
        option = _BATCH_OPTION.search(self.request.headers.get("sforce-query-options", ""))
        return min(max(int(option.group(1)), 1), 2000) if option else self.emulator.batch_size

    async def answer(self, endpoint: str, parts: list[str]) -> Response:
        """The response for ``endpoint`` (see :func:`_endpoint`) at ``parts`` of the path."""
        store, version = self.store, self.version
        if endpoint in ("query", "queryAll"):
            soql = self.request.query_params.get("q")
            if not soql:
                raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
            rows = store.query(soql, include_deleted=endpoint == "queryAll", version=version)
            return JSONResponse(self.cursors.page(rows, endpoint=endpoint, version=version, batch=self._batch()))
        if endpoint == "query_more":
            return JSONResponse(
                self.cursors.page([], endpoint=parts[0], version=version, batch=self._batch(), locator=parts[1])
            )
        if endpoint == "limits":
            used, limit = self.emulator.api_used, self.emulator.api_limit
            return JSONResponse({"DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)}})
        if endpoint == "create":
            record_id = store.create(parts[1], await _json_body(self.request))
            return JSONResponse({"id": record_id, "success": True, "errors": []}, 201)
        return await self._record(endpoint, parts)

    async def _record(self, endpoint: str, parts: list[str]) -> Response:
        store, version = self.store, self.version
        if endpoint == "describe":
            return JSONResponse(store.spec(parts[1]).describe(version))
        if endpoint == "get":
            fields = [f for f in self.request.query_params.get("fields", "").split(",") if f]
            return JSONResponse(store.get(parts[1], parts[2], version, fields or None))
        if endpoint == "update":
            store.update(parts[1], parts[2], await _json_body(self.request))
            return Response(status_code=204)
        if endpoint == "delete":
            store.delete(parts[1], parts[2])
            return Response(status_code=204)
        if endpoint == "get_by_external_id":
            return JSONResponse(store.get_by_external_id(parts[1], parts[2], parts[3], version))
        raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


def build_app(emulator: SalesforceEmulator) -> ASGIApp:
    """The ASGI app of ``emulator``: login endpoints and the data API under ``/services/data/vXX.X/``."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    cursors = _Cursors()

    @app.post("/services/Soap/u/{version}")
    async def soap_login(version: str, request: Request) -> Response:
        emulator.record_call("soap_login")
        await emulator.pause()
        status = emulator.take_login_fault()
        if status is not None:
            return Response("<html><body>Service Unavailable</body></html>", status, media_type="text/html")
        code, envelope = emulator.auth.soap_login(await request.body(), version)
        return Response(envelope, code, media_type="text/xml")

    @app.post("/services/oauth2/token")
    async def oauth_token(request: Request) -> Response:
        emulator.record_call("oauth_token")
        await emulator.pause()
        status = emulator.take_login_fault()
        if status is not None:
            return JSONResponse({"error": "unknown_error", "error_description": "retry later"}, status)
        form = dict(parse_qsl((await request.body()).decode()))
        try:
            return JSONResponse(emulator.auth.oauth_token(form, request.headers.get("authorization")))
        except OAuthError as exc:
            return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status)

    @app.api_route("/services/data/v{version}/{rest:path}", methods=["GET", "POST", "PATCH", "DELETE", "PUT"])
    async def data_api(version: str, request: Request) -> Response:
        parts = _path_parts(request, version)
        endpoint = _endpoint(request.method, parts) if re.fullmatch(r"[2-9]\d\.0", version) else "unknown"
        soql = request.query_params.get("q") if endpoint in ("query", "queryAll") else None
        emulator.record_call(endpoint, soql)
        await emulator.pause()
        refused = emulator.admit(_token(request))
        if refused is not None:
            return _error(*refused)
        try:
            return await _DataApi(emulator, cursors, version, request).answer(endpoint, parts)
        except SalesforceApiError as exc:
            return JSONResponse(exc.body(), exc.status)

    return _LimitInfo(app, emulator)
