"""Urgent escalation: call a client's contacts in turn until one acknowledges."""
