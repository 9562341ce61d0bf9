"""`opsflow forklift` with a bad plan file or a cloud it cannot use: one clear line on stderr, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from opsflow import cli, clouds


@pytest.fixture
def clouds_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clouds.yaml with one cloud, ``closed``, whose Keystone port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"closed": {
        "auth": {"auth_url": f"http://127.0.0.1:{port}/v3", "username": "u", "password": "p",
                 "project_name": "p", "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "r", "identity_api_version": 3}}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    clouds.forget()
    yield path
    clouds.forget()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as exited:
        cli.run_main(["forklift", *argv])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return int(exited.value.code or 0), lines


def test_unknown_cloud_name_is_one_line_naming_it(clouds_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown cloud name exits 2 with one line naming the cloud, the file searched and the fix."""
    code, lines = _run(capsys, "plan", "--from", "nosuch", "--to", "closed", "web-*")
    assert code == 2
    assert len(lines) == 1
    assert "'nosuch'" in lines[0] and str(clouds_yaml) in lines[0] and "OS_CLIENT_CONFIG_FILE" in lines[0]


def test_unreachable_cloud_is_one_line_naming_it(clouds_yaml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A cloud whose Keystone does not answer exits 1 with one line naming it and what to check."""
    code, lines = _run(capsys, "web-1", "--from", "closed", "--to", "closed")
    assert code == 1
    assert len(lines) == 1
    assert "'closed' cannot be reached" in lines[0] and "auth_url" in lines[0]


@pytest.mark.parametrize(("text", "says"), [
    ("servers: [\n  - id: a\n bad", ":3:"),
    ("- just a list", "a plan is a mapping"),
    ("source_cloud: a\ndestination_cloud: b\nservers: []\n", "no servers to move"),
    ("source_cloud: a\ndestination_cloud: b\nmode: teleport\nservers: [{id: x}]\n", "mode 'teleport'"),
    ("source_cloud: a\nservers: [{id: x}]\n", "'destination_cloud' must be"),
    ("source_cloud: a\ndestination_cloud: b\nservers: [{name: x}]\n", "servers[0]: 'id' must be"),
])
def test_bad_plan_file_is_one_line_naming_file_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       text: str, says: str) -> None:
    """A plan that cannot be used exits 2 with one line naming the file and what is wrong, before any cloud is asked."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    code, lines = _run(capsys, "apply", str(plan))
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"opsflow: {plan}") and says in lines[0]


def test_missing_plan_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plan path that does not exist exits 2 with one line naming it."""
    code, lines = _run(capsys, "apply", str(tmp_path / "nope.yaml"))
    assert code == 2 and len(lines) == 1 and "nope.yaml" in lines[0]


@pytest.mark.parametrize("command", [["plan"], []])
def test_malformed_mappings_file_is_one_line_at_its_position(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              command: list[str]) -> None:
    """A --mappings file that is not YAML exits 2 with one line at its line and column, before any cloud is asked."""
    mappings = tmp_path / "mappings.yaml"
    mappings.write_text("flavors: {m1.small: m1.tiny\n")
    code, lines = _run(capsys, *command, "--from", "a", "--to", "b", "web-*", "--mappings", str(mappings))
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"opsflow: {mappings}:2:1: malformed YAML: ")


def test_inject_failure_with_zookeeper_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Conductors take no failure points: asking for both (apply, or the one-shot form) is refused before any
    cloud or board is asked."""
    for command in (["apply", str(tmp_path / "plan.yaml")], ["web-*", "--from", "a", "--to", "b"]):
        code, lines = _run(capsys, *command, "--zookeeper", "127.0.0.1:1/x", "--inject-failure", "move[0].copy")
        assert code == 2
        assert any("--inject-failure" in line and "--zookeeper" in line for line in lines), lines


@pytest.mark.parametrize("option", ["--max-transfers", "--max-api-calls-per-second",
                                    "--max-bytes-per-second-per-host"])
def test_a_bad_limit_on_the_command_line_is_a_usage_error(capsys: pytest.CaptureFixture[str], option: str) -> None:
    """A limit of 0 is refused by the option itself (at least 1), in the one-shot form too."""
    for command in (["plan"], []):
        code, lines = _run(capsys, *command, "--from", "a", "--to", "b", "web-*", option, "0")
        assert code == 2 and any(option in line for line in lines), lines
