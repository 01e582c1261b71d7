"""Every test here goes through the real Asterisk: it is provisioned first, never skipped."""

import pytest


@pytest.fixture(autouse=True)
def _asterisk(asterisk_available: None) -> None:
    """Also for tests that build a Stack of their own."""
