"""Jobboard addresses and holds: how the distributed mode names its nodes and reads them back."""

import pytest

from opsflow.conductor import OffsetFileClock
from opsflow.engines.jobboard import Address, Hold, HoldKind
from opsflow.errors import ConfigError


def test_address_splits_hosts_and_root_and_builds_the_state_url() -> None:
    """HOSTS/ROOT gives the jobboard root and a zookeeper:// state URL under it, with the session timeout."""
    address = Address.parse("zookeeper://127.0.0.1:2181,127.0.0.1:2182/team/a", timeout=2)
    assert (address.hosts, address.root) == ("127.0.0.1:2181,127.0.0.1:2182", "/team/a")
    assert address.state_url == "zookeeper://127.0.0.1:2181,127.0.0.1:2182/team/a/state?timeout=2"
    assert Address.parse("127.0.0.1:2181").root == "/opsflow"


@pytest.mark.parametrize("text", ["", "localhost", "127.0.0.1:port/x"])
def test_address_refuses_what_is_not_a_host_port_list(text: str) -> None:
    """A malformed address is a configuration mistake, refused with the expected form in the message."""
    with pytest.raises(ConfigError, match="host:port"):
        Address.parse(text)


@pytest.mark.parametrize("hold", [
    Hold("0b9e-run", HoldKind.WAITING, 1_800_604_800.25),
    Hold("0b9e-run", HoldKind.WAITING, None),
    Hold("0b9e-run", HoldKind.PAUSED),
    Hold("0b9e-run", HoldKind.REVERT),
])
def test_hold_round_trips_through_its_node_name(hold: Hold) -> None:
    """Kind and due time survive being spelt as a node name."""
    assert Hold.from_node(hold.node) == hold


def test_unknown_node_names_are_ignored() -> None:
    """A node this version does not understand is no hold."""
    assert Hold.from_node("something-else") is None
    assert Hold.from_node("run~frozen~") is None


def test_only_due_waits_and_revert_requests_are_ready() -> None:
    """Paused and failed jobs wait for an operator; a wait is ready once due; a revert request at once."""
    assert not Hold("r", HoldKind.PAUSED).ready(10**10)
    assert not Hold("r", HoldKind.FAILED).ready(10**10)
    assert not Hold("r", HoldKind.WAITING, None).ready(10**10)
    assert not Hold("r", HoldKind.WAITING, 100.0).ready(99.0)
    assert Hold("r", HoldKind.WAITING, 100.0).ready(100.0)
    assert Hold("r", HoldKind.REVERT).ready(0.0)


def test_offset_file_clock_adds_the_files_seconds(tmp_path) -> None:
    """No file means the real time; a file moves the clock by its number of seconds."""
    clock = OffsetFileClock(tmp_path / "offset")
    before = clock.now()
    (tmp_path / "offset").write_text("604800\n")
    assert clock.now() - before >= 604800
