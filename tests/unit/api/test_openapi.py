"""The OpenAPI description covers every API route, and the paste file wires the pipeline in order."""

from __future__ import annotations

import importlib
from typing import Any

from opsflow.api import app, openapi, pipeline
from opsflow.identity.service_user import ServiceUser


def test_every_api_route_is_described_and_nothing_else() -> None:
    """Each (path, method) of the resource modules but the dashboard's pages is in the description."""
    routes = []
    for name in app.RESOURCES:
        module: Any = importlib.import_module(f"opsflow.api.{name}")
        routes += module.routes(None)  # routes() only builds closures; nothing reads services here
    served = {(r.path, m.lower()) for r in routes for m in r.methods
              if not r.path.startswith("/dashboard") and r.path != "/v1/"}
    described = {(path, method) for path, item in openapi.document("")["paths"].items() for method in item}
    assert served == described


def test_the_pipeline_runs_the_cookie_filter_and_access_keys_before_auth_token() -> None:
    """With a memcached, the access-key filter sits between the cookie filter and authtoken."""
    settings = pipeline.PasteSettings(zookeeper="127.0.0.1:2181/x", service=ServiceUser("http://k/v3", "opsflow", "pw"),
                                      access_key_memcache="127.0.0.1:11211")
    text = pipeline.paste_ini(settings)
    assert "pipeline = cookie_token opsflow_keys authtoken opsflow" in text
    assert "delay_auth_decision = true" in text
    without = pipeline.paste_ini(pipeline.PasteSettings("127.0.0.1:2181", ServiceUser("http://k/v3", "opsflow", "pw")))
    assert "pipeline = cookie_token authtoken opsflow" in without and "opsflow_keys" not in without
