"""The module gunicorn serves for every OpenStack API of the simulated cloud.

``OPSFLOW_WSGI_APP`` names the service's WSGI module (``keystone.wsgi.api``, ...);
``OPSFLOW_WSGI_MIDDLEWARE`` (``module:function``), when set, wraps its application, which is how
opsflow's middleware sits in front of Keystone 30 (it has no paste pipeline). oslo.config
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
if os.environ.get("OPSFLOW_WSGI_MIDDLEWARE"):
    _module, _, _function = os.environ["OPSFLOW_WSGI_MIDDLEWARE"].partition(":")
    application = getattr(importlib.import_module(_module), _function)(application)
