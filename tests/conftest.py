"""Fixtures for the whole suite."""

from pg_server import postgres_server

__all__ = ["postgres_server"]
