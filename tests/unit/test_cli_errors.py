"""Errors at the command line: one line on stderr, exit 2 for the user's mistakes, 1 for failures."""

import os
import stat
from collections.abc import Iterator

import pytest
import stevedore

from opsflow import registry
from opsflow.engines.runner import Runner
from opsflow.errors import PluginNotFound
from tests.fixtures import opsflow

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.fixture
def state(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


def test_unknown_column_is_one_line_exit_2(capsys, state) -> None:
    """`flows list -c nope` names the columns in one line, no traceback, exit 2."""
    with Runner(state) as runner:
        runner.runs()  # the state file exists: the column is the mistake
    code, out, err = opsflow(capsys, "flows", "list", "-c", "nope", "--state", state)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == ["opsflow: no column 'nope'; columns are: id, name, state, tasks done, created, owner"]


def test_bad_state_url_is_a_configuration_error_exit_2(capsys) -> None:
    """A state URL of an unknown scheme exits 2 with the accepted forms."""
    code, _, err = opsflow(capsys, "flows", "list", "--state", "mysql://db/flows")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "accepted forms" in err


@pytest.mark.parametrize("command", ["validate", "run", "graph"])
def test_a_definition_file_that_does_not_exist_is_named_without_a_made_up_position(
        capsys, tmp_path, command) -> None:
    """A missing definition path is one line naming the path, with no fake ``:0:0`` line and column."""
    missing = tmp_path / "no-such-flow.yaml"
    code, out, err = opsflow(capsys, command, str(missing), *(["--state", f"sqlite:///{tmp_path}/s.db"]
                                                            if command == "run" else []))
    prefix = "" if command == "validate" else "opsflow: "
    assert (code, out) == (1 if command == "validate" else 2, "")
    assert err.splitlines() == [f"{prefix}{missing}: no such file; check the path"]


def test_bad_zookeeper_address_is_a_configuration_error_exit_2(capsys) -> None:
    """A --zookeeper that is no host:port list exits 2 saying the form."""
    code, _, err = opsflow(capsys, "jobs", "list", "--zookeeper", "localhost")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "host:port" in err


def test_failing_dot_is_one_line_naming_its_reason(capsys, tmp_path, monkeypatch) -> None:
    """When Graphviz's `dot` fails, its first error line is reported in one line, exit 1.

    The `dot` here is a stand-in script (a mock of Graphviz, which the test machine need not have)
    that fails the way dot does on an unwritable output.
    """
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: Could not open \"/nowhere/x.svg\" for writing' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    code, _, err = opsflow(capsys, "graph", os.path.join(EXAMPLES, "demo.yaml"), "--format", "svg",
                           "-o", "/nowhere/x.svg")
    assert code == 1
    assert err.strip().splitlines() == [
        f"opsflow: Graphviz's `dot` could not draw {os.path.join(EXAMPLES, 'demo.yaml')} as svg: "
        "Error: Could not open \"/nowhere/x.svg\" for writing"
    ]


@pytest.fixture
def broken_action(tmp_path, monkeypatch) -> Iterator[str]:
    """An installed distribution whose `opsflow.tasks` entry point names a module that fails to import."""
    dist = tmp_path / "site" / "broken_opsflow_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-opsflow-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[opsflow.tasks]\nbroken.thing = broken_opsflow_plugin:Thing\n")
    (tmp_path / "site" / "broken_opsflow_plugin.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    # stevedore keeps each namespace's entry points for the life of the process; start from none.
    monkeypatch.setattr(stevedore.ExtensionManager, "ENTRY_POINT_CACHE", {})
    registry.fetch.cache_clear()
    yield "broken.thing"
    registry.fetch.cache_clear()


def test_plugin_failing_to_import_says_so(broken_action) -> None:
    """An installed action whose module does not import is reported as such, with the reason."""
    with pytest.raises(PluginNotFound) as raised:
        registry.fetch(registry.ACTIONS, broken_action)
    assert raised.value.import_error == "ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    assert "installed but failed to import: ModuleNotFoundError" in str(raised.value)


def test_definition_using_a_broken_plugin_points_at_it(capsys, tmp_path, broken_action) -> None:
    """validate names the task's action position and the import failure, not 'unknown action'."""
    flow = tmp_path / "f.yaml"
    flow.write_text(f"name: f\ntasks:\n  - name: a\n    action: {broken_action}\n")
    code, _, err = opsflow(capsys, "validate", str(flow))
    assert code == 1
    assert err.strip() == (f"{flow}:4:13: action 'broken.thing' is installed but failed to import: "
                           "ModuleNotFoundError: No module named 'no_such_module_anywhere'")


@pytest.mark.parametrize("argv", [["resume", "R"], ["jobs", "list"], ["jobs", "watch", "J"], ["reclaim", "keep", "S"],
                                  ["flows", "list"], ["flows", "show", "F"]])
def test_api_without_openstack_settings_names_them_exit_2(capsys, monkeypatch, tmp_path, argv) -> None:
    """`opsflow --api URL ...` with no OS_CLOUD or OS_* for Keystone says which settings to give, exit 2."""
    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/openstack/clouds.yaml either
    code, out, err = opsflow(capsys, "--api", "http://127.0.0.1:9", *argv)
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1 and "set OS_CLOUD (clouds.yaml) or OS_* variables" in err
