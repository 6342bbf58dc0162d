"""The app as ``grounddesk serve`` runs it: the lifespan builds every service from Settings and closes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from grounddesk.api.app import create_app
from grounddesk.config import Settings

pytestmark = pytest.mark.model


def test_the_lifespan_builds_the_services_from_settings_and_closes_them(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path / "home"))
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        created = client.post("/v1/conversations", json={"identity": None})
        assert created.status_code == 201 and created.json()["verified"] is False
        assert app.state.services is not None
    assert app.state.services is None  # closed at shutdown
    assert (tmp_path / "home" / "secret.key").exists()  # the token secret was generated and kept
