"""The module gunicorn serves for every OpenStack API of the simulated cloud.

``OPSFLOW_WSGI_APP`` names the service's WSGI module (``keystone.wsgi.api``, ...). oslo.config
parses ``sys.argv`` when the app initialises and would choke on gunicorn's own arguments, so they
are dropped first (shared/TESTBED.md).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

sys.argv = sys.argv[:1]

application: Any = importlib.import_module(os.environ["OPSFLOW_WSGI_APP"]).application
