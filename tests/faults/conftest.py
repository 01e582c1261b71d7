"""The fault suite's fixtures; its helpers are in fault_rig.py (a module name of its own, so
that a test importing them never gets another folder's conftest)."""

from fault_rig import _asterisk  # noqa: F401
