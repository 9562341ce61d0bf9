"""The scheduler's sample: uniform over the hosts that pass, never missing one, cheap when most pass."""

from __future__ import annotations

import collections
import random

from opsflow.sched.sampling import sample_passing

HOSTS = [f"host-{i:03d}" for i in range(100)]


def test_a_sample_holds_only_hosts_that_pass_and_no_more_than_asked() -> None:
    even = sample_passing(HOSTS, lambda h: int(h[-3:]) % 2 == 0, 16, random.Random(1))
    assert len(even) == 16 and len(set(even)) == 16
    assert all(int(h[-3:]) % 2 == 0 for h in even)


def test_when_fewer_pass_than_the_sample_size_every_one_of_them_is_kept() -> None:
    # a loaded cloud: 98 of 100 hypervisors reported down; a blind sample of 16 would most likely hold none
    up = {"host-003", "host-077"}
    assert sorted(sample_passing(HOSTS, up.__contains__, 16, random.Random(2))) == sorted(up)


def test_no_host_passing_gives_an_empty_sample() -> None:
    assert sample_passing(HOSTS, lambda h: False, 16) == []


def test_while_every_host_passes_only_the_sample_is_checked() -> None:
    checked: list[str] = []

    def passes(host: str) -> bool:
        checked.append(host)
        return True

    sample_passing(HOSTS, passes, 16, random.Random(3))
    assert len(checked) == 16


def test_while_every_host_passes_only_the_sample_is_drawn_not_the_whole_cloud() -> None:
    class Counted(random.Random):
        draws = 0

        def randrange(self, *args: int) -> int:  # type: ignore[override]
            Counted.draws += 1
            return super().randrange(*args)

    sample_passing([f"host-{i:05d}" for i in range(10_000)], lambda h: True, 16, Counted(5))
    assert Counted.draws == 16


def test_every_passing_host_is_equally_likely_to_be_drawn() -> None:
    rng = random.Random(4)
    passing = [h for h in HOSTS if int(h[-3:]) < 50]
    counts = collections.Counter(h for _ in range(2000) for h in sample_passing(HOSTS, passing.__contains__, 5, rng))
    assert set(counts) == set(passing)
    expected = 2000 * 5 / len(passing)  # 200 each
    assert all(abs(n - expected) < 0.3 * expected for n in counts.values())
