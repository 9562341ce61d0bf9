"""Hostile definitions are refused with file:line:col, each within 1 GiB of memory and 30 s."""

import re
import subprocess
import sys
import textwrap

import pytest

from opsflow.flows import loader
from opsflow.flows.yamldoc import Limits


def _laughs(levels: int = 9) -> str:
    """The billion laughs: each anchor lists the previous one ten times (10**levels strings)."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "name: laughs\n" + "\n".join(lines) + "\ntasks: [{name: a, action: core.noop}]\n"


def _merges(levels: int = 40) -> str:
    """Merge keys doubling at each level: 2**levels entries once flattened."""
    lines = ["m0: &m0 {k0: 1}"]
    lines += [f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], k{i}: 1}}" for i in range(1, levels + 1)]
    return "name: merges\n" + "\n".join(lines) + "\ntasks: [{name: a, action: core.noop}]\n"


def _subflow_fan(tmp_path, levels: int = 16) -> str:
    """Sub-flows that each use the next one twice: 2**levels tasks once every use is loaded."""
    for i in range(levels):
        (tmp_path / f"s{i}.yaml").write_text(
            f"name: s{i}\ntasks:\n  - {{name: a, flow: s{i + 1}}}\n  - {{name: b, flow: s{i + 1}}}\n")
    (tmp_path / f"s{levels}.yaml").write_text(f"name: s{levels}\ntasks: [{{name: a, action: core.noop}}]\n")
    return (tmp_path / "s0.yaml").read_text()


HOSTILE = {
    "alias bomb": (_laughs, r"more than \d+ values once aliases are expanded"),
    "alias containing itself": (lambda: "name: x\nloop: &a [*a]\ntasks: []\n", r"nested deeper than 64 levels"),
    "deep nesting": (lambda: "name: deep\ntasks: " + "[" * 900 + "]" * 900 + "\n", r"nested deeper than 64 levels"),
    "long document": (lambda: "name: long\n" + "# padding padding padding\n" * 800_000 + "tasks: []\n",
                      r"longer than 1048576 characters"),
    "huge scalar": (lambda: f"name: big\ndescription: '{'x' * 500_000}'\ntasks: []\n",
                    r"a value longer than 65536 characters"),
    "merge bomb": (_merges, r"merge keys \(<<\) expand to more than \d+ entries"),
}

#: Runs in a fresh interpreter whose address space is capped at 1 GiB.
_CHILD = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from opsflow.errors import DefinitionError
    from opsflow.flows import loader
    try:
        loader.load_file(sys.argv[1])
    except DefinitionError as exc:
        print(exc)
    else:
        print("accepted")
""")


def _refusal(path) -> str:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_document_is_refused_at_a_position_within_bounds(tmp_path, kind: str) -> None:
    """Each hostile document is refused with file:line:col (line >= 1) and a reason, under 1 GiB and 30 s."""
    make, reason = HOSTILE[kind]
    path = tmp_path / "hostile.yaml"
    path.write_text(make())
    message = _refusal(path)
    match = re.match(rf"{re.escape(str(path))}:(\d+):(\d+): (.*)", message)
    assert match, message
    assert int(match.group(1)) >= 1 and int(match.group(2)) >= 1
    assert re.search(reason, match.group(3)), message


def test_sub_flows_used_many_times_over_are_refused_at_the_task(tmp_path) -> None:
    """Sub-flows multiplying to more than MAX_TASKS tasks are refused at a task, under 1 GiB and 30 s."""
    _subflow_fan(tmp_path)
    message = _refusal(tmp_path / "s0.yaml")
    assert re.match(r".*/s\d+\.yaml:\d+:\d+: more than 10000 tasks, counting each use of a sub-flow", message), message


def test_the_limits_leave_room_for_large_real_flows() -> None:
    """A 1,000-task chain with aliases and merge keys loads well within every bound."""
    lines = ["name: big", "tasks:", "  - &first {name: t0, action: core.echo, args: {message: m0}}"]
    lines += [f"  - {{<<: *first, name: t{i}, args: {{message: m{i}}}}}" for i in range(1, 1000)]
    text = "\n".join(lines) + "\n"
    assert len(text) < Limits.CHARS
    assert len(loader.load_text(text).tasks) == 1000


def test_own_keys_override_merged_ones_as_in_safe_load() -> None:
    """A mapping's own key overrides one it merges (<<), as yaml.safe_load does; own duplicates stay refused."""
    import yaml

    from opsflow.errors import DefinitionError
    from opsflow.flows import yamldoc

    text = "d: &d {a: 1, b: 1}\ne: &e {a: 3, c: 3}\nx: {<<: [*d, *e], c: 2}\n"
    assert yamldoc.parse(text).value == yaml.safe_load(text)
    with pytest.raises(DefinitionError, match=r"<string>:1:11: duplicate key 'a'"):
        yamldoc.parse("x: {a: 1, a: 2}")
