"""The client's reserved area: its calls and messages, dashboard, self-service and team."""

from ivr.area.app import Area

__all__ = ["Area"]
