"""The operator's phone in the console page: WebRTC through the same Asterisk."""
