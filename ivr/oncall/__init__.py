"""Who of a client's people is on call now: on the operator's card, and in the client's area
where its admin adds holidays and cover to the rotation of its file."""
