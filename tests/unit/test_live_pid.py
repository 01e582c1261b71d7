"""A pid file names its process only while that very process runs: a pid given again to a
process started later (pids wrap at pid_max) is not it, so nothing signals a stranger."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.cluster.proc import live_pid


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # noqa: S603
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_the_process_written_into_its_pid_file_is_live(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "x.pid"
    path.write_text(f"{sleeper.pid}\n")
    assert live_pid(path) == sleeper.pid


def test_a_pid_given_again_to_a_later_process_is_not_the_files(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "x.pid"
    path.write_text(f"{sleeper.pid}\n")
    an_hour_ago = time.time() - 3600  # the file was written, its process died, the pid wrapped
    os.utime(path, (an_hour_ago, an_hour_ago))
    assert live_pid(path) is None


def test_a_process_that_ended_is_not_live(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    process.wait()
    path = tmp_path / "x.pid"
    path.write_text(f"{process.pid}\n")
    assert live_pid(path) is None
