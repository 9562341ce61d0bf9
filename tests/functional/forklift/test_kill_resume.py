"""A forklift run killed with SIGKILL mid-transfer resumes to completion without a second twin or copy."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsflow import clouds
from opsflow.devcloud.layout import Layout
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.flows.resolver import BUILTIN_DIR

from .harness import DESTINATION, SOURCE, Source, fresh_source

pytestmark = [pytest.mark.functional, pytest.mark.slow]

OPSFLOW = [sys.executable, "-c", "from opsflow.cli import run_main; run_main()"]
STARTED = re.compile(r"run (\S+) started")


@pytest.fixture
def source(cloud: Layout) -> Iterator[Source]:
    """A fresh source server; it and its twin are deleted afterwards."""
    with fresh_source("kill", 74) as made:
        yield made


def test_sigkill_during_the_copy_then_resume_makes_one_twin(source: Source, tmp_path: Path) -> None:
    """Killed while the disk is on its way, the resumed run adopts its own twin, snapshot and copy: one of each."""
    state = f"sqlite:///{tmp_path}/state.db"
    log = tmp_path / "run.log"
    with log.open("w") as err:
        proc = subprocess.Popen(OPSFLOW + ["-v", "run", f"{BUILTIN_DIR}/forklift.yaml", "--state", state,
                                           "-i", f"server={source.id}", "-i", f"source_cloud={SOURCE}",
                                           "-i", f"destination_cloud={DESTINATION}"],
                                stderr=err, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while "copy: executing" not in log.read_text():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the run never reached the copy"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_id = STARTED.search(log.read_text()).group(1)  # type: ignore[union-attr]

    with Runner(state) as runner:
        record = runner.resume(run_id)

    assert record.state is RunState.SUCCEEDED, [(t.path, t.error) for t in record.tasks if t.error]
    dst = clouds.connect(DESTINATION)
    assert len(list(dst.compute.servers(name=f"^{source.name}$"))) == 1
    copies = [i for i in dst.image.images(owner=dst.current_project_id) if i.name.startswith("opsflow-")]
    assert len(copies) == 1
    src = clouds.connect(SOURCE)
    assert not [i for i in src.image.images(owner=src.current_project_id) if i.name.startswith("opsflow-")]
