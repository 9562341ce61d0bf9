"""Detectors and the sweep's judgement over an inventory (built here from Nova's and Keystone's JSON)."""

from pathlib import Path

from opsflow.reclaim import marks, policy, sweep
from opsflow.reclaim.audit import Event, open_store
from opsflow.reclaim.inventory import Inventory, Owner, ServerView

NOW = 1_800_000_000.0
DAY = 86400.0

POLICY = policy.load_text("""
cloud: c
detectors:
  boot_failure: {after: 1h}
  owner_disabled: {}
  idle: {days: 14}
  expired: {key: lease-until}
  tagged: {tag: reclaim}
exclude: {tags: [pet]}
""")


def _server(sid: str, **fields: object) -> ServerView:
    raw = {"id": sid, "name": sid, "status": "ACTIVE", "tenant_id": "p1", "user_id": "u1",
           "flavor": {"original_name": "m1.tiny"}, "tags": [], "metadata": {},
           "created": "2027-01-10T00:00:00Z", "OS-SRV-USG:launched_at": "2027-01-10T00:00:10Z"}
    raw.update(fields)
    return ServerView.of(raw)


class _Inventory(Inventory):
    """An inventory whose listing is given (no cloud: the detectors' logic is under test)."""

    def __init__(self, servers: list[ServerView], diagnostics: dict[str, dict[str, object]]) -> None:
        super().__init__("c")
        self.servers = servers
        self.users = {"u1": Owner("u1", "alice", True, "alice@example.org"), "u2": Owner("u2", "bob", False)}
        self.projects = {"p1": Owner("p1", "demo", True)}
        self._given = diagnostics

    def diagnostics(self, server_id: str) -> dict[str, object] | None:  # type: ignore[override]
        self.diagnostics_calls += 1
        return self._given.get(server_id)


def _fleet() -> _Inventory:
    old = "2026-12-01T00:00:00Z"  # about 25 days before NOW
    servers = [
        _server("busy", created=old, **{"OS-SRV-USG:launched_at": old}),
        _server("error", status="ERROR", created=old, **{"OS-SRV-USG:launched_at": None}),
        _server("building", status="BUILD", created=old, **{"OS-SRV-USG:launched_at": None}),
        _server("fresh-error", status="ERROR", created="2027-01-15T07:50:00Z"),
        _server("orphan", user_id="u2"),
        _server("gone-owner", user_id="u9"),
        _server("idle", created=old, **{"OS-SRV-USG:launched_at": old}),
        _server("expired", metadata={"lease-until": "2027-01-01"}),
        _server("leased", metadata={"lease-until": "2099-01-01"}),
        _server("tagged", tags=["reclaim"]),
        _server("pet", tags=["reclaim", "pet"]),
        _server("kept", tags=["reclaim"], metadata={marks.KEEP_KEY: "2099-01-01T00:00:00Z"}),
        _server("stale", tags=[marks.TAG]),
    ]
    diagnostics = {"busy": {"last_activity": "2027-01-15T07:00:00Z"}, "idle": {"last_activity": old}}
    return _Inventory(servers, diagnostics)


def test_each_detector_finds_its_servers_and_says_why(tmp_path: Path) -> None:
    """Boot failures, a disabled or deleted owner, idle, expired and tagged servers are found; the rest not."""
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        found = sweep.evaluate(POLICY, _fleet(), store, NOW)
    by_name = {c.server.name: c for c in found.candidates}
    assert set(by_name) == {"error", "building", "orphan", "gone-owner", "idle", "expired", "tagged"}
    assert by_name["error"].detectors == ("boot_failure",) and "ERROR" in by_name["error"].reasons[0]
    assert "disabled" in by_name["orphan"].reasons[0] and "no longer exists" in by_name["gone-owner"].reasons[0]
    assert "no CPU activity since 2026-12-01" in by_name["idle"].reasons[0]
    assert "expired" in by_name["expired"].reasons[0] and "tagged" in by_name["tagged"].reasons[0]
    assert all(c.status is sweep.Status.NEW and c.cycle == 1 for c in found.candidates)
    assert {s.name for s, _ in found.excluded} == {"pet", "kept"}
    assert [s.name for s in found.stale] == ["stale"]


def test_only_idle_survivors_of_the_cheap_checks_cost_a_diagnostics_call(tmp_path: Path) -> None:
    """Old ACTIVE servers are asked about; young ones and ones in ERROR never."""
    fleet = _fleet()
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        sweep.evaluate(POLICY, fleet, store, NOW)
    assert fleet.diagnostics_calls == 2  # "busy" and "idle"


def test_a_server_in_a_run_is_not_new_and_a_keep_in_the_log_excludes(tmp_path: Path) -> None:
    """An open claim makes a candidate in-run; a closed one gives the next cycle; a logged keep excludes."""
    with open_store(f"sqlite:///{tmp_path}/state.db") as store:
        assert store.claim("error", 1, sweep.run_id_for("error", 1))
        assert not store.claim("error", 1, "another")  # a racing sweep loses
        store.claim("expired", 1, sweep.run_id_for("expired", 1))
        store.close_cycle("expired", 1)
        store.append(Event(NOW, "tagged", "kept", "owner:link", details={"until": NOW + DAY}))
        found = {c.server.name: c for c in sweep.evaluate(POLICY, _fleet(), store, NOW).candidates}
        assert found["error"].status is sweep.Status.IN_RUN and found["error"].run_id == sweep.run_id_for("error", 1)
        assert found["expired"].status is sweep.Status.NEW and found["expired"].cycle == 2
        assert "tagged" not in found
        store.append(Event(NOW, "tagged", "released", "operator"))
        assert "tagged" in {c.server.name for c in sweep.evaluate(POLICY, _fleet(), store, NOW).candidates}


def test_run_ids_are_the_same_for_every_sweep_and_differ_by_cycle() -> None:
    """Two sweeps computing a server's run id agree; the next cycle gets another."""
    assert sweep.run_id_for("s", 1) == sweep.run_id_for("s", 1) != sweep.run_id_for("s", 2)
