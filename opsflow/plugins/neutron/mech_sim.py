"""An ML2 mechanism driver that binds ports on simulated hypervisors, with no agents.

ML2 binds a port only when a mechanism driver does, and every driver that ships with Neutron wants
an agent (Open vSwitch, OVN, ...) on the port's host. Simulated hosts have none, so this driver
binds ports there itself: the port goes ACTIVE with ``binding:vif_type = other`` on the first
segment of a supported type. Servers then get real ports, fixed IPs and security groups.

Registered as ``opsflow_sim`` in the entry-point group ``neutron.ml2.mechanism_drivers``; enable it
with ``[ml2] mechanism_drivers = opsflow_sim``. ``[ml2_opsflow_sim] host_prefixes`` limits it to the
simulated hosts when real hosts share the cloud.
"""

from __future__ import annotations

import logging
from typing import Any

from neutron_lib import constants
from neutron_lib.plugins.ml2 import api
from oslo_config import cfg

__all__ = ["SimMechanismDriver"]

LOG = logging.getLogger(__name__)

OPTS = [
    cfg.ListOpt("host_prefixes", default=[],
                help="Bind only ports whose host starts with one of these; empty binds any host."),
    cfg.ListOpt("network_types", default=["flat", "vlan"],
                help="Segment types this driver binds."),
]
cfg.CONF.register_opts(OPTS, group="ml2_opsflow_sim")

#: What nova sees in ``binding:vif_details``; nothing on a simulated host reads it.
VIF_DETAILS = {"port_filter": True, "connectivity": "l2", "opsflow_sim": True}


class SimMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    """Binds every port on a simulated host to its first segment of a supported type."""

    def initialize(self) -> None:
        """Read the configuration once; ML2 calls this when it loads the driver."""
        conf = cfg.CONF.ml2_opsflow_sim
        self._prefixes = tuple(conf.host_prefixes)
        self._types = frozenset(conf.network_types)
        LOG.info("opsflow_sim mechanism driver: binding %s segments on %s", sorted(self._types),
                 ", ".join(self._prefixes) or "any host")

    @property
    def connectivity(self) -> str:
        """Ports bound here are layer-2 only."""
        return "l2"

    def _serves(self, host: str) -> bool:
        return bool(host) and (not self._prefixes or host.startswith(self._prefixes))

    def bind_port(self, context: Any) -> None:
        """Bind the port to the first segment we support, if its host is simulated."""
        host = context.host
        if not self._serves(host):
            return
        for segment in context.segments_to_bind:
            if segment[api.NETWORK_TYPE] in self._types:
                context.set_binding(segment[api.ID], "other", dict(VIF_DETAILS),
                                    status=constants.PORT_STATUS_ACTIVE)
                LOG.debug("bound port %s on %s to segment %s", context.current["id"], host,
                          segment[api.ID])
                return
        LOG.warning("port %s on %s: no %s segment to bind", context.current["id"], host,
                    "/".join(sorted(self._types)))
