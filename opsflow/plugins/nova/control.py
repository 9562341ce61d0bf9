"""nova-conductor and nova-scheduler in one unforked process.

Each of nova's own scripts forks a master and a worker even with ``workers = 1``; together, in one
process, they cost one interpreter instead of four (about 255 MB less, shared/TESTBED.md).

Run inside the services' virtualenv: ``python -m opsflow.plugins.nova.control --config-file F``.
"""

# nova decides on eventlet or threads at the first import of nova; it must come first.
from nova import monkey_patch  # isort: skip

monkey_patch.patch(backend="threading")

import sys  # noqa: E402

import nova.conf  # noqa: E402
from nova import config, objects, service  # noqa: E402
from nova.conductor import rpcapi as conductor_rpcapi  # noqa: E402
from nova.scheduler import rpcapi as scheduler_rpcapi  # noqa: E402
from oslo_log import log as oslo_logging  # noqa: E402

from opsflow.plugins.nova._process import run_until_signalled  # noqa: E402

CONF = nova.conf.CONF


def main(argv: list[str] | None = None) -> None:
    """Start the conductor, then the scheduler, and serve until signalled."""
    config.parse_args(sys.argv if argv is None else argv)
    oslo_logging.setup(CONF, "nova")
    objects.register_all()
    objects.Service.enable_min_version_cache()
    conductor = service.Service.create(binary="nova-conductor", topic=conductor_rpcapi.RPC_TOPIC)
    conductor.start()
    scheduler = service.Service.create(binary="nova-scheduler", topic=scheduler_rpcapi.RPC_TOPIC)
    scheduler.start()
    oslo_logging.getLogger(__name__).info("opsflow: conductor and scheduler started")
    run_until_signalled([conductor, scheduler])


if __name__ == "__main__":
    main()
