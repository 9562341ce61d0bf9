"""A batch planned and applied through `opsflow forklift`: each server its own child run, so the two
with injected failures revert alone and the others move; the report says which.

CI moves 10 servers; ``OPSFLOW_FORKLIFT_BATCH=50`` moves the issue's 50 (about 15 minutes here).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsflow import cli, clouds
from opsflow.devcloud import seed
from opsflow.devcloud.layout import Layout
from opsflow.tasks import slots
from tests.fixtures import recorded_slots

from .harness import DESTINATION, SOURCE

pytestmark = [pytest.mark.functional, pytest.mark.slow]

SIZE = int(os.environ.get("OPSFLOW_FORKLIFT_BATCH", "10"))
#: Items whose child run fails (at different steps), in plan order.
FAILING = {1: "move[1].copy", SIZE - 2: "move[%d].verify" % (SIZE - 2)}


@pytest.fixture(scope="module")
def batch(cloud: Layout) -> Iterator[list[Any]]:
    """SIZE running servers named ``fkb-<hex>-NN`` on the shared network; they and their twins are deleted after."""
    conn = clouds.connect(SOURCE)
    prefix = f"fkb-{uuid.uuid4().hex[:6]}"
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False).id
    network = conn.network.find_network(seed.NETWORK_NAME, ignore_missing=False).id
    made = [conn.compute.create_server(name=f"{prefix}-{i:02d}", image_id=seed.image_id(conn), flavor_id=flavor,
                                       networks=[{"uuid": network}]) for i in range(SIZE)]
    made = [conn.compute.wait_for_server(s, interval=1, wait=600) for s in made]
    yield made
    dst = clouds.connect(DESTINATION)
    for where in (dst, conn):
        doomed = [s for s in where.compute.servers(name=f"^{prefix}-")]
        for server in doomed:
            where.compute.delete_server(server)
        for server in doomed:
            where.compute.wait_for_delete(server, interval=1, wait=600)
        for image in list(where.image.images(owner=where.current_project_id)):  # deleting while paging loses the marker
            if image.name.startswith("opsflow-"):
                where.image.delete_image(image, ignore_missing=True)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        cli.run_main(list(argv))
    return int(exited.value.code or 0), capsys.readouterr().out


def test_batch_moves_all_but_the_failed_and_reverts_those_alone(batch: list[Any], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """plan writes every server; apply moves SIZE-2 and reverts the 2 that failed (no twin, source running);
    report -f json says so."""
    prefix = batch[0].name.rsplit("-", 1)[0]
    plan = tmp_path / "plan.yaml"
    code, _ = _cli(capsys, "forklift", "plan", "--from", SOURCE, "--to", DESTINATION, f"{prefix}-*", "-o", str(plan))
    assert code == 0
    doc = yaml.safe_load(plan.read_text())
    assert [s["name"] for s in doc["servers"]] == [s.name for s in batch]
    doc["limits"]["transfers"] = 3  # as an operator edits the plan: at most 3 copies at once
    plan.write_text(yaml.safe_dump(doc))

    state = f"sqlite:///{tmp_path}/state.db"
    argv = ["forklift", "apply", str(plan), "--state", state, "-f", "json"]
    for point in FAILING.values():
        argv += ["--inject-failure", point]
    with recorded_slots() as recording:
        code, out = _cli(capsys, *argv)

    assert code == 1  # not every server moved
    held = recording.peaks()  # every copy held the plan's bound, and never more than 3 at once
    assert 1 <= held.pop(slots.Bound("forklift/transfers", 3)) <= 3 and held == {}, recording.peaks()
    report = json.loads(out)
    outcomes = {row["server"]: row["outcome"] for row in report["servers"]}
    # a reverted run keeps no read result, so its line names the server as the plan did: by id
    assert outcomes == {(s.id if i in FAILING else s.name): ("reverted" if i in FAILING else "moved")
                        for i, s in enumerate(batch)}
    assert report["summary"]["moved"] == SIZE - 2 and report["summary"]["reverted"] == 2
    assert all(row["downtime"] > 0 for row in report["servers"] if row["outcome"] == "moved")
    twins = {s.name for s in clouds.connect(DESTINATION).compute.servers(name=f"^{prefix}-")}
    assert twins == {s.name for i, s in enumerate(batch) if i not in FAILING}
    src = clouds.connect(SOURCE)
    for index in FAILING:
        assert src.compute.get_server(batch[index].id).status == "ACTIVE"
