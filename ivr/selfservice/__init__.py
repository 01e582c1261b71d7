"""What a client changes by itself (its card's instructions, its escalation contacts), kept
as versions, and the audit log of every change a client's user made."""
