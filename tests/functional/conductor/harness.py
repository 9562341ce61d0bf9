"""Real `opsflow conductor` processes for the functional tests, and ways to wait on what they do."""

from __future__ import annotations

import collections
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from opsflow import jobs
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.runner import Runner
from opsflow.flows import loader
from tests.fixtures import OPSFLOW, eventually, executions

#: Session timeout of test conductors: short takeovers, yet safe from spurious expiry on 2 busy cores.
SESSION_TIMEOUT = "2"


class ConductorProcess:
    """One `opsflow -v conductor` subprocess logging to a file."""

    def __init__(self, tmp_path: Path, address: str, name: str, *extra: str) -> None:
        self.name = name
        self.log = tmp_path / f"{name}.log"
        command = OPSFLOW + ["-v", "conductor", "--zookeeper", address, "--name", name,
                             "--session-timeout", SESSION_TIMEOUT, *extra]
        with self.log.open("ab") as err:
            self.process = subprocess.Popen(command, stderr=err, stdout=subprocess.DEVNULL)

    def executions(self) -> collections.Counter[str]:
        """Task paths this conductor started executing, with how often."""
        return executions(self.log)

    def stacks(self, mentioning: str = "") -> list[str]:
        """Its threads' stacks now (SIGUSR1 makes a conductor print them), those mentioning a text."""
        if self.process.poll() is not None:
            return []
        before = len(self.log.read_text())
        self.process.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        dumped = self.log.read_text()[before:]
        return [block for block in re.split(r"\n(?=Thread 0x|Current thread 0x)", dumped)
                if block.startswith(("Thread 0x", "Current thread 0x")) and mentioning in block]

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Make sure the process is gone (fixture teardown)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Cluster:
    """Conductors started by a test on one address, plus an in-process board to submit and look."""

    def __init__(self, tmp_path: Path, address: str) -> None:
        self.tmp_path = tmp_path
        self.address_text = address
        self.address = Address.parse(address, timeout=float(SESSION_TIMEOUT))
        self.board = JobBoard(self.address)
        self.runner = Runner(self.address.state_url)
        self.conductors: list[ConductorProcess] = []
        self._closed = False

    def start(self, name: str, *extra: str, wait: bool = True) -> ConductorProcess:
        """Start a conductor; by default wait until it has registered on the board."""
        conductor = ConductorProcess(self.tmp_path, self.address_text, name, *extra)
        self.conductors.append(conductor)
        if wait:
            eventually(lambda: name in self.board.conductors() or conductor.process.poll() is not None, 60,
                       f"conductor {name} registered")
            assert conductor.process.poll() is None, conductor.log.read_text()
        return conductor

    def submit(self, text: str, **inputs: object) -> str:
        """Post a flow definition (YAML text) as a job; returns its id."""
        return jobs.submit(self.board, self.runner, loader.load_text(text), inputs)

    def view(self, run_id: str) -> jobs.JobView | None:
        """The job as operators see it, or None once it left the board."""
        for job in jobs.views(self.board, self.runner):
            if job.entry.run_id == run_id:
                return job
        return None

    def executions(self) -> collections.Counter[str]:
        """Executions of every task by every conductor of this cluster."""
        total: collections.Counter[str] = collections.Counter()
        for conductor in self.conductors:
            total += conductor.executions()
        return total

    def close_board(self) -> None:
        """Close this test's own ZooKeeper clients (safe to repeat)."""
        if not self._closed:
            self._closed = True
            self.runner.close()
            self.board.close()

    def close(self) -> None:
        """Stop every conductor and close the board."""
        for conductor in self.conductors:
            conductor.stop()
        self.close_board()
