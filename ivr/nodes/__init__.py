"""The nodes of a cluster as the engines see each other: each engine's heartbeat while its
Asterisk answers, the calls of a node gone quiet closed by a surviving engine, and the
engine's answer to Kamailio's pings (a node without its engine leaves the rotation)."""
