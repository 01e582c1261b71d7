"""Ports handed to the tests' instances: never one twice, and sipp's media ports as a block."""

from __future__ import annotations

import socket

import pytest

from ivr.harness import ports


@pytest.fixture
def small_slice(monkeypatch: pytest.MonkeyPatch) -> range:
    """A worker slice of 16 ports, none given yet (the real set is left alone)."""
    window = range(ports.LOW + 6000, ports.HIGH)
    start = next(
        p for p in window if all(ports._bindable(q, "127.0.0.4") for q in range(p, p + 16))
    )
    monkeypatch.setattr(ports, "_slice", lambda: range(start, start + 16))
    monkeypatch.setattr(ports, "_given", set())
    return range(start, start + 16)


def test_a_media_port_keeps_the_video_ports_sipp_binds_two_above_it(small_slice: range) -> None:
    media = ports.free_media_port("127.0.0.4")
    block = set(range(media, media + 4))
    assert block <= set(small_slice)
    others = []
    with pytest.raises(OSError, match="no 1 free ports"):
        while True:
            others.append(ports.free_udp_port("127.0.0.4"))
    assert len(others) == 12 and not block & set(others)  # every other port, each once


def test_a_port_another_process_holds_is_not_handed_out(small_slice: range) -> None:
    held = {small_slice.start + 6, small_slice.start + 12}  # room for two blocks of 4, no more
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
            for sock, port in zip((a, b), sorted(held), strict=True):
                sock.bind(("127.0.0.4", port))
            media = [ports.free_media_port("127.0.0.4") for _ in range(2)]
            with pytest.raises(OSError, match="no 4 free ports"):
                ports.free_media_port("127.0.0.4")
    for port in media:
        assert not held & set(range(port, port + 4))
