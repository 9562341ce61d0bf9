"""schemathesis against the served OpenAPI description: no server error, no response off the schema.

Every operation of ``/v1/openapi.json`` is called with generated parameters and bodies, as the
owner (a real Keystone token of user demo), a few examples each (``OPSFLOW_API_EXAMPLES``, default
8) so the suite stays well under two minutes.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from tests.functional.api.conftest import Api, Persona

pytestmark = pytest.mark.functional

EXAMPLES = int(os.environ.get("OPSFLOW_API_EXAMPLES", "8"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


@pytest.fixture(scope="session")
def api_schema(api: Api) -> Any:
    """The description as served, its server URL the running API's."""
    return schemathesis.openapi.from_url(f"{api.url}/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_to_the_description(case: Any, personas: dict[str, Persona]) -> None:
    """Whatever the generated request, the answer is no 5xx and matches the description."""
    case.call_and_validate(headers=personas["owner"].headers, checks=CHECKS)
