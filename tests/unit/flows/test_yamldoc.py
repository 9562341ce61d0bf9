"""Every YAML file opsflow reads goes through one bounded reader and fails in one wording."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsflow.devcloud import profiles as behaviour_profiles
from opsflow.errors import DefinitionError
from opsflow.flows import loader, yamldoc
from opsflow.forklift import plan
from opsflow.reclaim import policy
from opsflow.sched import profile as traffic_profile
from opsflow.simulate import profile as ramp_profile
from opsflow.transfer import access

#: Each file reader of opsflow, by what it reads.
READERS: dict[str, Callable[[str], Any]] = {
    "flow definition": loader.load_file,
    "traffic profile": traffic_profile.load_file,
    "ramp profile": ramp_profile.load_file,
    "behaviour profile": behaviour_profiles.load_file,
    "reclaim policy": policy.load_file,
    "host access": access.load,
    "forklift plan": plan.load,
}

_ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(6))


@pytest.fixture(params=sorted(READERS))
def read(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """One of the readers."""
    return READERS[request.param]


def test_a_missing_file_is_named_without_a_made_up_position(tmp_path: Path, read: Callable[[str], Any]) -> None:
    """A path that does not exist: ``path: no such file; check the path``, whichever file it was meant to be."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(DefinitionError) as refused:
        read(str(missing))
    assert str(refused.value) == f"{missing}: no such file; check the path"


def test_malformed_yaml_points_at_its_line_and_column(tmp_path: Path, read: Callable[[str], Any]) -> None:
    """YAML that does not parse is refused at the line and column where it breaks, with the fix."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nservers: [\n")
    with pytest.raises(DefinitionError) as refused:
        read(str(bad))
    assert str(refused.value).startswith(f"{bad}:3:1: malformed YAML: ")
    assert str(refused.value).endswith("; fix the syntax at this position")


def test_an_alias_bomb_is_refused_within_the_bounds(tmp_path: Path, read: Callable[[str], Any]) -> None:
    """Aliases that expand to millions of values are refused at the node that crosses the bound."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(_ALIAS_BOMB)
    with pytest.raises(DefinitionError, match=rf"^{re.escape(str(bomb))}:\d+:\d+: more than {yamldoc.Limits.NODES} values"):
        read(str(bomb))


def test_text_that_is_not_utf8_says_how_to_fix_it(tmp_path: Path, read: Callable[[str], Any]) -> None:
    """A file in another encoding is named, with where it stops being UTF-8 and what to do."""
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(DefinitionError, match=rf"^{re.escape(str(latin))}: not UTF-8 text \(.* at byte 9\); save it as UTF-8$"):
        read(str(latin))


def test_a_file_longer_than_the_bound_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """Only one character past :attr:`Limits.CHARS` is read; the parser's length bound then refuses it."""
    huge = tmp_path / "huge.yaml"
    huge.write_text("# " + "x" * (2 * yamldoc.Limits.CHARS) + "\n")
    assert len(yamldoc.read_text(huge)) == yamldoc.Limits.CHARS + 1
    with pytest.raises(DefinitionError, match=rf"^{re.escape(str(huge))}:1:\d+: the document is longer than"):
        yamldoc.read(huge)


def test_read_gives_the_values_and_positions_parse_gives(tmp_path: Path) -> None:
    """Reading a file is parsing its text with the file's path as the source."""
    text = "name: x\nsteps:\n  - {hypervisors: 1e3}\n"
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    assert yamldoc.read(path) == yamldoc.parse(text, str(path))
