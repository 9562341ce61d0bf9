"""``python -m opsflow.api serve --paste FILE --port N`` (what the simulated cloud starts)."""

from opsflow.cli_api import api

api(prog_name="python -m opsflow.api")
