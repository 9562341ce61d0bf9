"""The paced relay between a copy's two agents, on plain pipes (the SSH copy itself is tested functionally)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from opsflow.tasks import slots
from opsflow.transfer import stream
from tests.fixtures import RecordingSlots, recorded_slots


@pytest.fixture
def recording() -> Iterator[RecordingSlots]:
    with recorded_slots() as ours:
        yield ours


def _read_all(fd: int) -> bytes:
    out = bytearray()
    while chunk := os.read(fd, 1 << 16):
        out += chunk
    os.close(fd)
    return bytes(out)


def test_the_relay_forwards_every_byte_and_reserves_each_from_both_hosts(recording: RecordingSlots) -> None:
    """3.5 MiB pass unchanged; each host's bucket is charged exactly the bytes that went through."""
    data = os.urandom(3 * (1 << 20) + (1 << 19))
    rates = [slots.Rate("forklift/bytes/source/a/h1", 1 << 40), slots.Rate("forklift/bytes/destination/b/h2", 1 << 40)]
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()

    def feed() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(in_w, view[: 1 << 16]):]
        os.close(in_w)

    feeder = threading.Thread(target=feed)
    relay = threading.Thread(target=stream._relay, args=(in_r, out_w, rates))
    feeder.start()
    relay.start()
    assert _read_all(out_r) == data
    feeder.join()
    relay.join()
    assert recording.units() == {rate: len(data) for rate in rates}


def test_a_receiver_gone_ends_the_relay_and_the_sender_sees_its_pipe_close(recording: RecordingSlots) -> None:
    """EPIPE towards the receiver is not an error of the relay: it closes both ends so the sender fails too."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.close(out_r)  # the receiver died
    relay = threading.Thread(target=stream._relay, args=(in_r, out_w, [slots.Rate("r", 1 << 40)]))
    relay.start()
    os.write(in_w, b"x" * 1024)
    relay.join(timeout=10)
    assert not relay.is_alive()
    with pytest.raises(BrokenPipeError):
        os.write(in_w, b"more")
    os.close(in_w)
