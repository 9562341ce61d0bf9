"""schemathesis against the served OpenAPI description: no server error, no response off the schema.

Every operation of ``/v1/openapi.json`` is called with requests generated from the description,
as the owner (a real Keystone token of user demo), a few examples each (``OPSFLOW_API_EXAMPLES``,
default 6) so the suite stays well under two minutes. The operations are parametrised from the
description in the code, and each is generated from the one the server serves. (schemathesis's
own pytest loader does not run under pytest 9 yet, so hypothesis drives its strategies here.)
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from opsflow.api import openapi
from tests.functional.api.conftest import Api, Persona

pytestmark = pytest.mark.functional

EXAMPLES = int(os.environ.get("OPSFLOW_API_EXAMPLES", "6"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
OPERATIONS = [(path, method) for path, item in openapi.document("")["paths"].items() for method in item]


@pytest.fixture(scope="session")
def served(api: Api) -> Any:
    """The description as the running API serves it."""
    return schemathesis.openapi.from_url(f"{api.url}/v1/openapi.json")


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_every_operation_keeps_to_the_description(served: Any, api: Api, personas: dict[str, Persona],
                                                  path: str, method: str) -> None:
    """Whatever the generated request, the answer is no 5xx and matches the description."""
    operation = served[path][method]
    headers = personas["owner"].headers

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(base_url=api.url, headers=headers, checks=CHECKS)

    run()
