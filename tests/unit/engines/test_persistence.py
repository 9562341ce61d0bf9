"""The TaskFlow persistence contract, one suite over every backend opsflow offers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import futurist
import pytest
from taskflow import engines, states
from taskflow import exceptions as tf_exc
from taskflow.patterns import unordered_flow
from taskflow.persistence import models
from taskflow.types import failure

from tests.unit.engines import resume_flow
from opsflow.engines import persistence

BACKENDS = ["memory", "sqlite", pytest.param("zookeeper", marks=pytest.mark.functional)]

Opener = Callable[[], Any]


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Which backend the test runs on."""
    return str(request.param)


@pytest.fixture
def url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The state URL of a fresh, empty store of that kind."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/state/flows.db"
    if kind == "zookeeper":
        hosts = request.getfixturevalue("zookeeper_hosts")
        chroot = request.getfixturevalue("zk_chroot")
        return f"zookeeper://{hosts}{chroot}?timeout=10"
    return "memory://"


@pytest.fixture
def reopen(url: str) -> Iterator[Opener]:
    """Open the store as a new backend object would (memory: the same object, it cannot reopen)."""
    opened: list[Any] = []
    memory = persistence.fetch(url) if url == "memory://" else None

    def open_backend() -> Any:
        backend = memory or persistence.fetch(url)
        opened.append(backend)
        return backend

    yield open_backend
    for backend in opened:
        backend.close()


@pytest.fixture
def conn(reopen: Opener) -> Iterator[Any]:
    """A connection to the fresh store, schema in place."""
    with contextlib.closing(reopen().get_connection()) as connection:
        connection.upgrade()
        yield connection


def _book(tasks: int = 2) -> tuple[Any, Any]:
    book = models.LogBook("migrate-batch-7")
    book.meta = {"owner": "ops", "batch": 7}
    flow = models.FlowDetail("forklift", uuid=str(uuid.uuid4()))
    flow.state = states.RUNNING
    flow.meta = {"cloud": "east"}
    for i in range(tasks):
        atom = models.TaskDetail(f"copy-{i}", uuid=str(uuid.uuid4()))
        atom.state = states.PENDING
        atom.version = "1.0"
        flow.add(atom)
    retry = models.RetryDetail("retry-copy", uuid=str(uuid.uuid4()))
    retry.results = [({"attempt": 1}, {})]
    flow.add(retry)
    book.add(flow)
    return book, flow


def _atoms(flow: Any) -> dict[str, tuple[Any, ...]]:
    return {
        atom.name: (type(atom), atom.uuid, atom.state, atom.intention, atom.results, atom.meta, atom.version)
        for atom in flow
    }


def test_saved_logbook_reads_back_equal(conn: Any) -> None:
    """A saved logbook reads back with its meta, times, flows and atoms."""
    book, flow = _book()
    conn.save_logbook(book)
    loaded = conn.get_logbook(book.uuid)
    assert (loaded.name, loaded.meta, loaded.created_at) == (book.name, book.meta, book.created_at)
    (loaded_flow,) = list(loaded)
    assert (loaded_flow.uuid, loaded_flow.name, loaded_flow.state, loaded_flow.meta) == (
        flow.uuid, flow.name, flow.state, flow.meta,
    )
    assert _atoms(loaded_flow) == _atoms(flow)


def test_lazy_logbook_has_no_flows(conn: Any) -> None:
    """``lazy=True`` loads the logbook alone."""
    book, _flow = _book()
    conn.save_logbook(book)
    assert len(conn.get_logbook(book.uuid, lazy=True)) == 0


def test_atom_update_replaces_its_state(conn: Any) -> None:
    """Updating an atom stores its new state, result, meta and intention."""
    book, flow = _book()
    conn.save_logbook(book)
    atom = next(a for a in flow if a.name == "copy-0").copy()
    atom.put(states.SUCCESS, {"volume": "vol-1", "bytes": 42})
    atom.meta["progress"] = 1.0
    atom.intention = states.REVERT
    conn.update_atom_details(atom)
    stored = conn.get_atom_details(atom.uuid)
    assert (stored.state, stored.results, stored.meta, stored.intention, stored.name) == (
        states.SUCCESS, {"volume": "vol-1", "bytes": 42}, {"progress": 1.0}, states.REVERT, "copy-0",
    )


def test_failure_round_trips(conn: Any) -> None:
    """A stored failure keeps its exception type and message."""
    book, flow = _book()
    conn.save_logbook(book)
    atom = next(a for a in flow if a.name == "copy-1").copy()
    try:
        raise RuntimeError("quota exceeded for project p1")
    except RuntimeError:
        atom.put(states.FAILURE, failure.Failure())
    conn.update_atom_details(atom)
    stored = conn.get_atom_details(atom.uuid)
    assert stored.state == states.FAILURE
    assert stored.failure.check(RuntimeError) is RuntimeError
    assert stored.failure.exception_str == "quota exceeded for project p1"


def test_flow_update_merges_atoms(conn: Any) -> None:
    """Updating a flow detail stores its state and new atoms, keeping atoms it does not carry."""
    book, flow = _book()
    conn.save_logbook(book)
    update = models.FlowDetail(flow.name, uuid=flow.uuid)
    update.state = states.SUCCESS
    update.meta = {"cloud": "west"}
    added = models.TaskDetail("verify", uuid=str(uuid.uuid4()))
    update.add(added)
    conn.update_flow_details(update)
    stored = conn.get_flow_details(flow.uuid)
    assert (stored.state, stored.meta) == (states.SUCCESS, {"cloud": "west"})
    assert {a.name for a in stored} == {"copy-0", "copy-1", "retry-copy", "verify"}


def test_saving_a_logbook_again_merges_flows(conn: Any) -> None:
    """Saving a logbook again updates its meta and adds flows, keeping the stored ones."""
    book, flow = _book()
    conn.save_logbook(book)
    again = models.LogBook(book.name, uuid=book.uuid)
    again.meta = {"owner": "night-shift"}
    second = models.FlowDetail("hibernate", uuid=str(uuid.uuid4()))
    again.add(second)
    conn.save_logbook(again)
    stored = conn.get_logbook(book.uuid)
    assert stored.meta == {"owner": "night-shift"}
    assert {f.name for f in stored} == {"forklift", "hibernate"}
    assert {f.uuid for f in conn.get_flows_for_book(book.uuid)} == {flow.uuid, second.uuid}


def test_results_survive_reopening(conn: Any, reopen: Opener) -> None:
    """What one backend object stored, a new one on the same file or chroot reads."""
    book, flow = _book()
    conn.save_logbook(book)
    atom = next(iter(flow)).copy()
    atom.put(states.SUCCESS, ["port-1", "port-2"])
    conn.update_atom_details(atom)
    with contextlib.closing(reopen().get_connection()) as fresh:
        stored = fresh.get_flow_details(flow.uuid).find(atom.uuid)
        assert (stored.state, stored.results) == (states.SUCCESS, ["port-1", "port-2"])
        assert {a.uuid for a in fresh.get_atoms_for_flow(flow.uuid)} == {a.uuid for a in flow}


def test_finished_atom_is_visible_to_others_when_the_update_returns(conn: Any, reopen: Opener) -> None:
    """A SUCCESS update is stored before the call returns: a second backend reads it at once."""
    book, flow = _book()
    conn.save_logbook(book)
    atom = next(iter(flow)).copy()
    atom.put(states.RUNNING, None)
    conn.update_atom_details(atom)
    atom.put(states.SUCCESS, "done")
    conn.update_atom_details(atom)
    with contextlib.closing(reopen().get_connection()) as other:
        assert (other.get_atom_details(atom.uuid).state, other.get_atom_details(atom.uuid).results) == (
            states.SUCCESS, "done",
        )


def test_in_flight_updates_are_stored_by_close(reopen: Opener) -> None:
    """RUNNING and progress updates are stored at the latest when the backend closes."""
    backend = reopen()
    book, flow = _book()
    with contextlib.closing(backend.get_connection()) as conn:
        conn.save_logbook(book)
        atom = next(iter(flow)).copy()
        atom.put(states.RUNNING, None)
        conn.update_atom_details(atom)
        atom.meta["progress"] = 0.5
        conn.update_atom_details(atom)
    backend.close()
    with contextlib.closing(reopen().get_connection()) as other:
        stored = other.get_atom_details(atom.uuid)
    assert (stored.state, stored.meta) == (states.RUNNING, {"progress": 0.5})


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.get_logbook("no-such-book"),
        lambda c: c.get_flow_details("no-such-flow"),
        lambda c: c.get_atom_details("no-such-atom"),
        lambda c: list(c.get_flows_for_book("no-such-book")),
        lambda c: list(c.get_atoms_for_flow("no-such-flow")),
        lambda c: c.destroy_logbook("no-such-book"),
        lambda c: c.update_atom_details(models.TaskDetail("ghost", uuid="no-such-atom")),
        lambda c: c.update_flow_details(models.FlowDetail("ghost", uuid="no-such-flow")),
    ],
    ids=["logbook", "flow", "atom", "flows-for-book", "atoms-for-flow", "destroy", "update-atom", "update-flow"],
)
def test_unknown_ids_raise_not_found(conn: Any, call: Callable[[Any], Any]) -> None:
    """Reading, updating or destroying what is not stored raises TaskFlow's NotFound."""
    with pytest.raises(tf_exc.NotFound):
        call(conn)


def test_destroy_logbook_removes_only_that_logbook(conn: Any) -> None:
    """Destroying a logbook removes its flows and atoms and leaves other logbooks alone."""
    book, flow = _book()
    other, other_flow = _book()
    conn.save_logbook(book)
    conn.save_logbook(other)
    conn.destroy_logbook(book.uuid)
    with pytest.raises(tf_exc.NotFound):
        conn.get_flow_details(flow.uuid)
    with pytest.raises(tf_exc.NotFound):
        conn.get_atom_details(next(iter(flow)).uuid)
    assert [b.uuid for b in conn.get_logbooks()] == [other.uuid]
    assert _atoms(conn.get_flow_details(other_flow.uuid)) == _atoms(other_flow)


def test_clear_all_empties_the_store(conn: Any) -> None:
    """``clear_all`` removes every logbook, flow and atom."""
    book, flow = _book()
    conn.save_logbook(book)
    conn.save_logbook(_book()[0])
    conn.clear_all()
    conn.upgrade()  # TaskFlow's memory backend drops its folders too
    assert list(conn.get_logbooks()) == []
    with pytest.raises(tf_exc.NotFound):
        conn.get_atom_details(next(iter(flow)).uuid)


def test_parallel_engine_run_is_stored(reopen: Opener) -> None:
    """Every atom of a parallel engine's run reads back SUCCESS with its result from a new backend."""
    backend = reopen()
    book = models.LogBook("engine-run")
    extras = [resume_flow.Step(f"side-{i}", None, None) for i in range(4)]
    flow = unordered_flow.Flow("run").add(resume_flow.make_flow(log=None, block=None), *extras)
    executor = futurist.ThreadPoolExecutor(max_workers=4)
    try:
        engine = engines.load(flow, engine="parallel", executor=executor, backend=backend, book=book)
        engine.run()
    finally:
        executor.shutdown()
    flow_uuid = engine.storage.flow_uuid
    with contextlib.closing(reopen().get_connection()) as fresh:
        stored = fresh.get_flow_details(flow_uuid)
    names = [*resume_flow.STEPS, *(task.name for task in extras)]
    assert {a.name: (a.state, a.results) for a in stored if a.name in names} == {
        name: (states.SUCCESS, name.upper()) for name in names
    }
    assert stored.state == states.SUCCESS


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("zookeeper", marks=pytest.mark.functional)])
def test_kill_9_resumes_without_repeating_finished_tasks(url: str, reopen: Opener, tmp_path: Path) -> None:
    """After kill -9 mid-flow, resuming runs only the task in flight and those after it."""
    log, block = tmp_path / "ran.log", tmp_path / "unblock"
    with contextlib.closing(reopen().get_connection()) as conn:
        book = models.LogBook("resume")
        flow_detail = models.FlowDetail("resume", uuid=str(uuid.uuid4()))
        book.add(flow_detail)
        conn.save_logbook(book)
    child = subprocess.Popen(
        [sys.executable, resume_flow.__file__, url, book.uuid, flow_detail.uuid, str(log), str(block)],
    )
    try:
        deadline = time.monotonic() + 60
        while "slow" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            assert child.poll() is None, "the flow process ended before it was killed"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    block.touch()
    resume_flow.run(reopen(), book.uuid, flow_detail.uuid, log, block)
    assert log.read_text().split() == [*resume_flow.STEPS[:3], *resume_flow.STEPS[2:]]
    with contextlib.closing(reopen().get_connection()) as fresh:
        stored = fresh.get_flow_details(flow_detail.uuid)
    assert {a.name: a.results for a in stored if a.name in resume_flow.STEPS} == {
        name: name.upper() for name in resume_flow.STEPS
    }


def test_taskflow_fetch_finds_the_registered_backend(tmp_path: Path) -> None:
    """TaskFlow's own ``backends.fetch`` loads opsflow's SQLite backend by its entry-point name."""
    from taskflow.persistence import backends

    backend = backends.fetch({"connection": "opsflow-sqlite", "path": str(tmp_path / "ep.db")})
    try:
        assert isinstance(backend, persistence.SQLiteBackend)
    finally:
        backend.close()
