"""Bad input to the hibernation shortcuts is one line and exit 2, before anything touches a cloud."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from opsflow.cli import main


@pytest.mark.parametrize(("argv", "says"), [
    (["hibernate", "--cloud", "nowhere"], "say which servers"),
    (["hibernate", "--cloud", "nowhere", "web-1", "--container", "a/b"], "container 'a/b'"),
    (["restore", "--cloud", "nowhere", "web-1", "--prefix", "/abs"], "object prefix"),
    (["hibernate", "--cloud", "nowhere", "web-1", "--inject-failure", "store:sometime"], "PATH:before"),
    (["hibernate", "--cloud", "nowhere", "web-1", "--per-host", "0"], "--per-host"),
    (["restore", "--cloud", "nowhere", "web-1", "--per-cloud", "0"], "--per-cloud"),
])
def test_bad_input_is_a_usage_error(argv: list[str], says: str) -> None:
    """No server named, a container Swift refuses, an absolute prefix, a bad injection point, a zero bound: exit 2."""
    done = CliRunner().invoke(main, argv)
    assert done.exit_code == 2
    assert says in done.output
