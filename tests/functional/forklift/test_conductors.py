"""Forklift in the distributed mode: `opsflow forklift apply --zookeeper` (or the one-shot
`opsflow forklift SERVER... --from --to --zookeeper`) posts the batch, real
`opsflow conductor` processes share its servers, a conductor killed with -9 mid-transfer is replaced
without a second twin or image copy, and a batch's transfer bounds hold across conductors.

The servers boot on the shared network (the single-server suites check properties in depth); the
ZooKeeper is the test fixtures' own, the clouds are the session's devcloud. CI runs the kill;
``OPSFLOW_FORKLIFT_BOUNDS=1`` runs the three-server bound case too (about 4 minutes on busy cores;
``tests/functional/conductor/test_slots.py`` checks the same ZooKeeper bounds in seconds without a cloud).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow import clouds
from opsflow.devcloud import seed
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunRecord, RunState
from opsflow.engines.runner import Runner
from opsflow.forklift import apply as forklift_apply
from opsflow.tasks import image
from tests.fixtures import eventually, opsflow
from tests.functional.conductor.harness import Cluster, ConductorProcess

from .harness import DESTINATION, SOURCE

pytestmark = [pytest.mark.functional, pytest.mark.slow]

#: Seconds a batch of a few servers may take on two loaded cores.
BATCH_TIMEOUT = 600


@pytest.fixture
def boot(cloud: Layout) -> Iterator[Callable[[int], list[Any]]]:
    """``boot(n)``: n ACTIVE servers ``fkc-<hex>-NN`` at the source; they and their twins are deleted after."""
    prefixes: list[str] = []

    def make(count: int) -> list[Any]:
        conn = clouds.connect(SOURCE)
        prefix = f"fkc-{uuid.uuid4().hex[:6]}"
        prefixes.append(prefix)
        flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False).id
        network = conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
        made = [conn.compute.create_server(name=f"{prefix}-{i:02d}", image_id=seed.image_id(conn), flavor_id=flavor,
                                           networks=[{"uuid": network}]) for i in range(count)]
        return [conn.compute.wait_for_server(s, interval=1, wait=300) for s in made]

    yield make
    for where in (clouds.connect(DESTINATION), clouds.connect(SOURCE)):
        doomed = [s for prefix in prefixes for s in where.compute.servers(name=f"^{prefix}-")]
        for server in doomed:
            where.compute.delete_server(server)
        for server in doomed:
            where.compute.wait_for_delete(server, interval=1, wait=300)
        # listed whole first: deleting while paging loses the marker (Glance 400)
        for leftover in list(where.image.images(owner=where.current_project_id)):
            if leftover.name.startswith("opsflow-"):
                where.image.delete_image(leftover, ignore_missing=True)


def _plan(capsys: pytest.CaptureFixture[str], tmp_path: Path, prefix: str, *extra: str) -> Path:
    plan = tmp_path / "plan.yaml"
    code, _, err = opsflow(capsys, "forklift", "plan", "--from", SOURCE, "--to", DESTINATION, f"{prefix}-*",
                           "-o", str(plan), *extra)
    assert code == 0, err
    return plan


def _copies(conductor: ConductorProcess) -> int:
    return conductor.executions()["copy"]


def _twins(prefix: str) -> list[Any]:
    return list(clouds.connect(DESTINATION).compute.servers(name=f"^{prefix}-"))


def _migration_images(cloud: str, runner: Runner, run_id: str) -> list[Any]:
    """The images the batch ``run_id``'s servers made at ``cloud``, by the tag each carries (an earlier
    batch's, such as ``tools/demo``'s, are not this run's)."""
    mine = tuple(f"opsflow:{child.run_id}:" for child in runner.children_of(run_id))
    conn = clouds.connect(cloud)
    return [i for i in conn.image.images(owner=conn.current_project_id)
            if str(i.properties.get(image.TAG_PROPERTY, "")).startswith(mine)]


def test_a_conductor_killed_mid_transfer_is_replaced_without_a_second_twin_or_copy(
        cluster: Cluster, boot: Callable[[int], list[Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """The one-shot form with --zookeeper --no-wait plans here and posts the batch; the conductor copying
    the disk is SIGKILLed; the other one takes the server's job over, adopts the snapshot, the image copy
    and the twin, and moves it."""
    (server,) = boot(1)
    prefix = server.name.rsplit("-", 1)[0]
    alpha, beta = cluster.start("alpha"), cluster.start("beta")

    code, out, err = opsflow(capsys, "forklift", f"{prefix}-*", "--from", SOURCE, "--to", DESTINATION,
                             "--zookeeper", cluster.address_text, "--no-wait")
    assert code == 0, err
    run_id = out.strip()
    assert cluster.runner.record(run_id).inputs["servers"] == [server.id]  # planned here, run by the conductors

    victim = eventually(lambda: next((c for c in (alpha, beta) if _copies(c)), None), BATCH_TIMEOUT,
                        "a conductor copying the disk")
    victim.kill()
    survivor = beta if victim is alpha else alpha

    record = forklift_apply.follow(cluster.runner, run_id, lambda _: None, poll=1.0, timeout=BATCH_TIMEOUT)
    assert record.state is RunState.SUCCEEDED, record
    assert _copies(survivor) == 1  # the copy in flight ran again (at-least-once), on the survivor
    assert [t.name for t in _twins(prefix)] == [server.name]
    assert len(_migration_images(DESTINATION, cluster.runner, run_id)) == 1
    assert not _migration_images(SOURCE, cluster.runner, run_id)  # the snapshot was cleaned up

    code, out, _ = opsflow(capsys, "forklift", "report", run_id, "--zookeeper", cluster.address_text, "-f", "json")
    assert code == 0
    assert [(r["server"], r["outcome"]) for r in json.loads(out)["servers"]] == [(server.name, "moved")]


def _transfers(children: list[RunRecord]) -> list[tuple[float, float]]:
    """(start, end) of every server's transfer, as its copy step recorded them."""
    copies = [next(t.result for t in child.tasks if t.path == "copy") for child in children]
    return sorted((c["transfer_started"], c["transfer_ended"]) for c in copies)


@pytest.mark.skipif(not os.environ.get("OPSFLOW_FORKLIFT_BOUNDS"), reason="set OPSFLOW_FORKLIFT_BOUNDS=1 (minutes)")
def test_a_batchs_transfer_bound_holds_across_conductors(
        cluster: Cluster, boot: Callable[[int], list[Any]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Three servers, --max-transfers 1, two conductors running them at once: the copies never overlap
    in time although both conductors copied (some waited for the slot), and every server moved."""
    servers = boot(3)
    prefix = servers[0].name.rsplit("-", 1)[0]
    plan = _plan(capsys, tmp_path, prefix, "--max-transfers", "1")
    conductors = [cluster.start("alpha", "--jobs", "2"), cluster.start("beta", "--jobs", "2")]

    code, out, err = opsflow(capsys, "forklift", "apply", str(plan), "--zookeeper", cluster.address_text, "-f", "json")
    assert code == 0, err
    assert {r["server"]: r["outcome"] for r in json.loads(out)["servers"]} == {s.name: "moved" for s in servers}

    run_id = err.split("submitted forklift job ", 1)[1].split()[0]
    children = cluster.runner.children_of(run_id)
    spans = _transfers(children)
    assert len(spans) == 3
    assert all(end <= following for (_, end), (following, _) in zip(spans, spans[1:])), spans
    assert all(_copies(c) for c in conductors), "both conductors should have copied"
    assert max(next(t.result for t in c.tasks if t.path == "copy")["queued_seconds"] for c in children) > 0
