"""nova's own virt driver conformance suite, run against opsflow's SimDriver.

This module runs inside the simulated cloud's services virtualenv (nova is not installed in
opsflow's own), by ``python -m testtools.run tests.conformance.sim_driver_case``; the pytest test
``tests/functional/devcloud/test_nova_conformance.py`` starts it and reads its result. Every test of
nova's ``_VirtDriverTestCase`` runs unchanged; the only setup is what any deployment of the driver
gives it: its options (no artificial latency, disks in the test's temporary directory) and a host.
"""

from __future__ import annotations

import os

import fixtures
from nova import test
from nova.tests.unit.virt import test_virt_drivers


class SimDriverConformance(test_virt_drivers._VirtDriverTestCase, test.TestCase):
    """nova's driver contract, held by SimDriver exactly as by nova's FakeDriver."""

    def setUp(self) -> None:
        self.driver_module = "opsflow.plugins.nova.driver.SimDriver"
        # options exist once the driver module is imported; set them before the driver is built
        from opsflow.plugins.nova import driver  # noqa: F401  (registers [opsflow_sim])
        disks = self.useFixture(fixtures.TempDir()).path
        self.flags(disk_dir=disks, spawn_seconds=0, power_seconds=0, reboot_seconds=0,
                   destroy_seconds=0, snapshot_seconds=0, live_migration_seconds=0, jitter=0,
                   group="opsflow_sim")
        super().setUp()
        self.connection.init_host("myhostname")


class _Unimplemented:
    """Stands in for the suite's logger: what the driver did not implement, one line each.

    nova's suite lets a test pass when the driver raises NotImplementedError and only logs it;
    those lines are this driver's skips, so they go to ``$OPSFLOW_CONFORMANCE_REPORT`` where the
    pytest side checks each has its reason.
    """

    def error(self, message: str, args: dict[str, object]) -> None:
        path = os.environ.get("OPSFLOW_CONFORMANCE_REPORT")
        if path:
            with open(path, "a") as report:
                report.write(f"{args['test']} {args['method']}\n")

    def __getattr__(self, name: str) -> object:
        return getattr(_SUITE_LOG, name)


_SUITE_LOG = test_virt_drivers.LOG
test_virt_drivers.LOG = _Unimplemented()
