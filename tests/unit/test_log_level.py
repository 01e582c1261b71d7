"""The settings' `log_level` is the engine's own level, from the file or the environment."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.__main__ import _settings


@pytest.fixture
def root_level() -> Iterator[None]:
    before = logging.getLogger().level
    yield
    logging.getLogger().setLevel(before)


def test_the_files_log_level_sets_the_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, root_level: None
) -> None:
    monkeypatch.delenv("IVR_LOG_LEVEL", raising=False)
    path = tmp_path / "ivr.toml"
    lines = [f'home = "{tmp_path}"', f'asterisk_root = "{tmp_path}"', 'ami_secret = "s"']
    path.write_text("\n".join([*lines, 'log_level = "warning"', ""]))
    _settings(argparse.Namespace(config=path))
    assert logging.getLogger().level == logging.WARNING
    monkeypatch.setenv("IVR_LOG_LEVEL", "DEBUG")  # the environment over the file
    _settings(argparse.Namespace(config=path))
    assert logging.getLogger().level == logging.DEBUG
