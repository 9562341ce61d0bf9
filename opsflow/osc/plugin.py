"""The OSC plugin module: how ``openstack`` builds opsflow's client (osc-lib's conventions)."""

from __future__ import annotations

import argparse
from typing import Any

from osc_lib import utils

from opsflow.api.remote import SERVICE_TYPE

__all__ = ["API_NAME", "API_VERSIONS", "API_VERSION_OPTION", "DEFAULT_API_VERSION", "SERVICE_TYPE",
           "build_option_parser", "make_client"]

API_NAME = "opsflow"
API_VERSION_OPTION = "os_opsflow_api_version"
API_VERSIONS = ("1",)
DEFAULT_API_VERSION = "1"


def make_client(instance: Any) -> Any:
    """The client for ``openstack``'s session, its endpoint taken from the catalog (or ``--os-opsflow-url``)."""
    from opsflow.api.remote import Client

    endpoint = getattr(instance, "_cli_options", None) and instance._cli_options.config.get("opsflow_url")
    if not endpoint:
        endpoint = instance.get_endpoint_for_service_type(SERVICE_TYPE, region_name=instance.region_name,
                                                          interface=instance.interface)
    return Client(instance.session, str(endpoint))


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--os-opsflow-api-version`` and ``--os-opsflow-url``."""
    parser.add_argument("--os-opsflow-api-version", metavar="<version>",
                        default=utils.env("OS_OPSFLOW_API_VERSION", default=DEFAULT_API_VERSION),
                        help="opsflow API version (default: 1, env OS_OPSFLOW_API_VERSION)")
    parser.add_argument("--os-opsflow-url", metavar="<url>", default=utils.env("OS_OPSFLOW_URL"),
                        help="opsflow API endpoint, instead of the catalog's (env OS_OPSFLOW_URL)")
    return parser
