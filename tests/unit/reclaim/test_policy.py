"""Reclaim policies are validated on load, with file:line:col errors, like flow definitions."""

from pathlib import Path

import pytest

from opsflow.errors import DefinitionError
from opsflow.reclaim import policy

GOOD = """
cloud: devcloud-source-admin
detectors:
  boot_failure: {after: 30m}
  owner_disabled: {}
  idle: {days: 14, where: {flavors: [m1.tiny]}}
  expired: {key: lease-until}
  tagged:
stages: {notice: 7d, final: 2d}
exclude: {tags: [pet], metadata: {reclaim: never}}
action: delete
notify:
  - email: {host: 127.0.0.1, port: 2525}
  - webhook: {url: "http://127.0.0.1:1/hook"}
links: {url: "http://127.0.0.1:8089", key: "0123456789abcdef", ttl: 3d}
"""


def test_a_good_policy_loads_with_durations_in_seconds() -> None:
    """Stages, link expiry and detector scopes come out as typed values."""
    loaded = policy.load_text(GOOD)
    assert loaded.notice_seconds == 7 * 86400 and loaded.final_seconds == 2 * 86400
    assert loaded.link_ttl == 3 * 86400 and loaded.action == "delete"
    assert [d.name for d in loaded.detectors] == ["boot_failure", "owner_disabled", "idle", "expired", "tagged"]
    assert loaded.detectors[2].where.flavors == ("m1.tiny",)
    assert loaded.exclude_tags == ("pet",) and loaded.exclude_metadata == {"reclaim": "never"}


def test_the_json_form_round_trips() -> None:
    """What a run carries reads back as the same policy."""
    loaded = policy.load_text(GOOD)
    assert policy.Policy.from_json(loaded.to_json()) == loaded


@pytest.mark.parametrize(("text", "where", "says"), [
    ("cloud: c\ndetectors:\n  idle: {dayz: 3}\n", "3:9", "unknown setting 'dayz'"),
    ("cloud: c\ndetectors:\n  nosuch: {}\n", "3:11", "nosuch"),
    ("cloud: c\ndetectors: {tagged: {}}\nstages: {notice: 7 days}\n", "3:18", "not a duration"),
    ("cloud: c\ndetectors: {tagged: {}}\naction: shred\n", "3:9", "shred"),
    ("cloud: c\ndetectors: {tagged: {}}\ncolour: red\n", "1:1", "allowed keys"),
    ("detectors: {tagged: {}}\n", "1:1", "'cloud' is a required property"),
    ("cloud: c\ndetectors: {boot_failure: {after: soon}}\n", "2:27", "after"),
])
def test_a_bad_policy_is_refused_at_the_line_that_is_wrong(text: str, where: str, says: str) -> None:
    """Each mistake names its position and what to change."""
    with pytest.raises(DefinitionError) as caught:
        policy.load_text(text, "p.yaml")
    assert f"p.yaml:{where}:" in str(caught.value) and says in str(caught.value)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    """No file, no traceback: one line naming the path."""
    with pytest.raises(DefinitionError, match="absent.yaml"):
        policy.load_file(tmp_path / "absent.yaml")
