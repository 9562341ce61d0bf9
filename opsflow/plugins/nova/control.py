"""nova-conductor and nova-scheduler in one unforked process, or a further conductor alone.

Each of nova's own scripts forks a master and a worker even with ``workers = 1``; together, in one
process, they cost one interpreter instead of four (about 255 MB less, shared/TESTBED.md). A cloud
with more simulated hypervisors than one conductor serves runs further conductors, each its own
process (:mod:`opsflow.plugins.nova.conductor`), all consuming the one conductor topic.

Run inside the services' virtualenv: ``python -m opsflow.plugins.nova.control --config-file F``.
"""

# nova decides on eventlet or threads at the first import of nova; it must come first.
from nova import monkey_patch  # isort: skip

monkey_patch.patch(backend="threading")

import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import nova.conf  # noqa: E402
from nova import config, objects, service  # noqa: E402
from nova.conductor import rpcapi as conductor_rpcapi  # noqa: E402
from nova.scheduler import rpcapi as scheduler_rpcapi  # noqa: E402
from oslo_log import log as oslo_logging  # noqa: E402

from opsflow.plugins.nova._process import run_until_signalled  # noqa: E402

CONF = nova.conf.CONF

#: nova's service binaries this module can run, with their RPC topics.
TOPICS = {"nova-conductor": conductor_rpcapi.RPC_TOPIC, "nova-scheduler": scheduler_rpcapi.RPC_TOPIC}
#: What the log says once every service started (the bring-up, which cannot import nova, waits for this text).
READY = "opsflow: nova services started"


def main(argv: list[str] | None = None, binaries: Sequence[str] = ("nova-conductor", "nova-scheduler")) -> None:
    """Start ``binaries`` in order and serve until signalled."""
    config.parse_args(sys.argv if argv is None else argv)
    oslo_logging.setup(CONF, "nova")
    objects.register_all()
    objects.Service.enable_min_version_cache()
    services = []
    for binary in binaries:
        services.append(service.Service.create(binary=binary, topic=TOPICS[binary]))
        services[-1].start()
    oslo_logging.getLogger(__name__).info("%s: %s", READY, ", ".join(binaries))
    run_until_signalled(services)


if __name__ == "__main__":
    main()
