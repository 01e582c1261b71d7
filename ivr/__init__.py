"""Telephone answering engine: decides who answers every diverted call, and what happens next."""

__version__ = "0.1.0"
