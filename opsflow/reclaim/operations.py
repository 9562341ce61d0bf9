"""What the ``opsflow reclaim`` commands do, as functions (the CLI prints; tests call these directly).

Two modes, as everywhere in opsflow: with a jobboard (``--zookeeper``) every reclaim run is a job
the conductors drive, and a keep lifts the run's wait on the board; without one, state is an
SQLite file and the sweep itself drives its runs: it runs new ones up to their first wait and
resumes those whose wait is due or that were signalled, so a cron'd ``reclaim scan`` is the whole
service on one machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

from opsflow import clouds, jobs
from opsflow.engines.jobboard import Address, JobBoard
from opsflow.engines.records import RunState
from opsflow.engines.runner import Runner
from opsflow.errors import FlowNotFound, InvalidState, OpsflowError
from opsflow.reclaim import cycles, keep as keeping, links, sweep
from opsflow.reclaim.audit import AuditStore, open_store
from opsflow.reclaim.inventory import Inventory
from opsflow.reclaim.policy import Policy
from opsflow.tasks.base import Clock

__all__ = ["COLUMNS", "Scanned", "Site", "drive_due", "keep", "keeper", "release", "resolve_server", "rows", "scan",
           "status_of"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class Site:
    """Where runs and the audit log live: an SQLite state URL, or a ZooKeeper address."""

    state_url: str
    zookeeper: str | None = None
    #: Session timeout for the board (tests use short ones).
    timeout: float = 4.0
    #: The clock runs see (a test clock rehearses a week in seconds).
    clock: Clock | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[tuple[Runner, AuditStore, JobBoard | None]]:
        """Runner, audit store and (distributed mode) jobboard, closed afterwards."""
        if self.zookeeper:
            address = Address.parse(self.zookeeper, timeout=self.timeout)
            board: JobBoard | None = JobBoard(address)
            state_url = address.state_url
        else:
            board, state_url = None, self.state_url
        runner = Runner(state_url, clock=self.clock)
        store = open_store(state_url)
        try:
            yield runner, store, board
        finally:
            store.close()
            runner.close()
            if board is not None:
                board.close()

    def signaller(self, runner: Runner, board: JobBoard | None) -> Callable[[str], None]:
        """Sends ``keep`` to a run: on the board (lifting its wait) or to the stored run."""
        if board is not None:
            return lambda run_id: None if jobs.signal(board, runner, run_id, keeping.KEEP_SIGNAL) else None
        return lambda run_id: None if runner.signal(run_id, keeping.KEEP_SIGNAL) else None


@dataclasses.dataclass(frozen=True)
class Scanned:
    """A sweep's outcome."""

    sweep: sweep.Sweep
    #: Runs started (or posted) by this sweep.
    started: tuple[str, ...]
    #: Runs this sweep drove on (local mode): due or signalled waits.
    resumed: tuple[str, ...]
    #: Servers whose stale mark was cleared.
    cleared: tuple[str, ...]


def scan(policy: Policy, site: Site, clock: Clock, *, dry_run: bool = False, drive: bool = True,
         definition: str | None = None) -> Scanned:
    """One sweep. A dry run only reads: no claim, no run, no mark touched."""
    now = clock.now()
    with site.open() as (runner, store, board):
        inventory = Inventory(policy.cloud).read()
        found = sweep.evaluate(policy, inventory, store, now)
        if dry_run:
            return Scanned(found, (), (), ())
        started = sweep.start(policy, found, runner, store, now, board=board, definition_path=definition)
        cleared = sweep.clear_stale(clouds.connect(policy.cloud), found, store, now)
        resumed: list[str] = []
        if board is None and drive:
            for run_id in started:
                runner.resume(run_id, hold_waits=False)
            resumed = drive_due(runner, store, now, skip=set(started))
        return Scanned(found, tuple(started), tuple(resumed), tuple(cleared))


def drive_due(runner: Runner, store: AuditStore, now: float, skip: set[str] | None = None) -> list[str]:
    """Local mode: resume every open reclaim run whose wait is due or that got a signal since."""
    resumed = []
    for claim in store.claims().values():
        if claim.closed or claim.run_id in (skip or set()):
            continue
        try:
            record = runner.record(claim.run_id)
        except FlowNotFound:
            continue
        dues = [due for due in record.waits.values() if due is not None]
        signalled = keeping.KEEP_SIGNAL in runner.signals(claim.run_id)
        if record.state is RunState.WAITING and (signalled or (dues and min(dues) <= now)):
            runner.resume(claim.run_id, hold_waits=False)
            resumed.append(claim.run_id)
    return resumed


def keep(site: Site, cloud: str, server: str, days: float, actor: str, clock: Clock) -> keeping.Kept:
    """``reclaim keep``: record the keep, then signal the run."""
    server_id = resolve_server(cloud, server)
    with site.open() as (runner, store, board):
        return keeping.keep(store, cloud, server_id, days, actor, clock.now(), site.signaller(runner, board))


def resolve_server(cloud: str, server: str) -> str:
    """A server's id from its name or id (any project)."""
    with clouds.errors(cloud, f"finding server {server}"):
        conn = clouds.connect(cloud)
        found = clouds.find_one(conn.compute.find_server, server, all_projects=True)
    if found is None:
        raise FlowNotFound(server, f"cloud {cloud}", kind="server", listing="openstack server list --all-projects")
    return str(found.id)


def keeper(site: Site, policy: Policy, clock: Clock) -> links.Keeper:
    """What the link endpoint does with a valid link: spend its nonce once, then keep."""

    def keep_by_link(link: links.Link) -> str:
        with site.open() as (runner, store, board):
            if not store.use_nonce(link.nonce):
                raise links.LinkRefused("this keep link was used already; each link works once")
            try:
                kept = keeping.keep(store, policy.cloud, link.server, link.days, "owner:link", clock.now(),
                                    site.signaller(runner, board))
            except InvalidState as exc:
                raise links.LinkRefused(str(exc)) from exc
        return kept.sentence()

    return keep_by_link


def release(site: Site, cloud: str, server: str, actor: str, clock: Clock) -> str:
    """``reclaim release``: drop an owner's keep, so the server may be picked again."""
    from opsflow.reclaim import marks
    from opsflow.reclaim.audit import Event

    server_id = resolve_server(cloud, server)
    with site.open() as (_runner, store, _board):
        store.append(Event(clock.now(), server_id, "released", actor, "keep dropped by an operator"))
    with clouds.errors(cloud, "dropping the keep"):
        marks.release(clouds.connect(cloud), server_id)
    return server_id


def status_of(runner: Runner, run_id: str) -> str:
    """A run's state (or ``missing``), for listings."""
    try:
        record = runner.record(run_id)
    except (FlowNotFound, OpsflowError):
        return "missing"
    if record.state is RunState.WAITING and record.waiting:
        return "waiting " + "; ".join(record.waiting.values())
    return record.state.value


#: Columns of :func:`rows`.
COLUMNS = ["server", "name", "project", "cycle", "run", "state", "deadline", "kept_until", "last"]


def rows(site: Site) -> list[list[Any]]:
    """``reclaim list``: every server with a cycle, its latest one."""
    with site.open() as (runner, store, _board):
        return [[c.server, c.name, c.project, c.cycle, c.run_id, c.state, c.deadline, c.kept_until, c.last]
                for c in cycles.cycles(store, lambda run_id: status_of(runner, run_id))]
