"""The campaigns' rig fixture; the rig itself is in campaign_rig.py (a module name of its
own, so that a test importing it never gets another folder's conftest)."""

from campaign_rig import rig  # noqa: F401
