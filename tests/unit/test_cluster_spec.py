"""The cluster's settings file (ivr/cluster/spec.py) and what is rendered from it: each
node's engine settings (trusting Kamailio's address and port alone), Kamailio's config
(accepted by `kamailio -c`) and its dispatcher list; what kamcmd says of the nodes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ivr.cluster.database import DatabaseError, DatabaseSpec, FailoverDatabase
from ivr.cluster.dbauth import Passwords, harden_hba, pgpass_text, scram_verifier
from ivr.cluster.kamailio import Kamailio, parse_destinations, render
from ivr.cluster.run import Running
from ivr.cluster.spec import engine_environ, load, node_settings, node_values, parse, toml_text
from ivr.config import ConfigError
from ivr.records.listen import plain_dsn

RULES = Path(__file__).resolve().parents[1] / "e2e" / "rules"
PG = "postgresql+asyncpg://ivr@127.0.0.1:5432/ivr"


def data(**cluster: Any) -> dict[str, Any]:
    table = {"name": "center", "port": 17000, "nodes": [{"name": "a"}, {"name": "b"}]}
    table.update(cluster)
    return {"db_url": PG, "rules": str(RULES), "cluster": table}


def test_each_node_gets_its_own_ports_and_trusts_only_kamailio() -> None:
    cluster = parse(data())
    a, b = cluster.nodes

    assert (a.sip, b.sip) == (16060, 16061) and a.rtp_end < b.rtp_start
    settings = node_settings(cluster, b)
    assert settings.instance == "center-b" and settings.cluster_node
    assert settings.trunk_addresses == "127.0.0.1:17000"  # Kamailio's address AND port
    assert settings.operator_proxy == "127.0.0.1:17000"
    assert settings.db_url == PG
    assert settings.own_call("center-b-1764000000.12")
    assert not settings.own_call("center-a-1764000000.12")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"nodes": []}, "at least one"),
        ({"nodes": [{"name": "a"}, {"name": "a", "sip": 16100}]}, "same name"),
        ({"nodes": [{"name": "a"}, {"name": "b", "sip": 16060}]}, "port"),
        (
            {"nodes": [{"name": "a", "rtp": "21000-21999"}, {"name": "b", "rtp": "21500-22500"}]},
            "overlap",
        ),  # fmt: skip
        ({"nodes": [{"name": "A b"}]}, "lower-case"),
        ({"carriers": "8.8.8.8:5060"}, "without ports"),
        ({"address": "8.8.8.8"}, "neither loopback nor private"),
        ({"surprise": 1}, "unknown setting"),
    ],
)
def test_a_wrong_cluster_is_refused_with_the_reason(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse(data(**change))


def test_several_nodes_need_postgresql_and_nodes_own_settings_are_not_shared() -> None:
    sqlite = data()
    sqlite["db_url"] = "sqlite+aiosqlite:////tmp/x.db"
    with pytest.raises(ConfigError, match="PostgreSQL"):
        parse(sqlite)
    with pytest.raises(ConfigError, match="each node's own"):
        parse({**data(), "trunk_addresses": "0.0.0.0/0"})


def test_the_rendered_node_file_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    cluster = parse(data())
    values = node_values(cluster, cluster.nodes[0])
    text = toml_text(values, 'a "title"')
    assert tomllib.loads(text) == values


def test_kamailio_accepts_the_rendered_config(tmp_path: Path) -> None:
    path = tmp_path / "cluster.toml"
    path.write_text(
        f'db_url = "{PG}"\nrules = "{RULES}"\nshared_dir = "{tmp_path / "shared"}"\n'
        '[cluster]\nname = "unit"\nport = 17000\ncarriers = "127.0.0.2, 10.1.0.0/24"\n'
        '[[cluster.nodes]]\nname = "a"\n[[cluster.nodes]]\nname = "b"\n'
    )
    cluster = load(path)
    cluster = type(cluster)(**{**cluster.__dict__, "home": tmp_path})  # run files in tmp
    cfg = render(cluster)
    asyncio.run(Kamailio(cluster).check())  # `kamailio -c`: the config parses

    text = cfg.read_text()
    assert 'is_in_subnet("$si", "127.0.0.2/32,10.1.0.0/24")' in text
    listed = (cfg.parent / "dispatcher.list").read_text()
    assert "1 sip:127.0.0.1:16060 8 0 duid=a" in listed
    assert "1 sip:127.0.0.1:16061 8 0 duid=b" in listed
    # the browser phones: Kamailio's WebSocket, for the engines alone, with their token
    assert "listen=tcp:127.0.0.1:8066" in text and 'loadmodule "websocket.so"' in text
    assert 'is_in_subnet("$si", "127.0.0.1")' in text
    token = (tmp_path / "shared" / "sip" / "proxy.token").read_text().strip()
    assert f'$hdr(X-Ivr-Token) != "{token}"' in text
    assert "webs=>size=8;autoexpire=90;" in text


def test_the_nodes_relay_their_browser_phones_to_kamailios_websocket() -> None:
    cluster = parse(data(websocket=17066, nodes=[{"name": "a", "address": "10.0.0.11"}]))
    settings = node_settings(cluster, cluster.nodes[0])
    assert settings.phone_proxy == "ws://127.0.0.1:17066"
    assert cluster.engine_networks == ("127.0.0.1", "10.0.0.11")
    with pytest.raises(ConfigError, match="port"):
        parse(data(websocket=17066, nodes=[{"name": "a", "ami": 17066}]))
    with pytest.raises(ConfigError, match="each node's own"):
        parse({**data(), "phone_proxy": "ws://127.0.0.1:1"})


def test_kamcmd_dispatcher_list_is_read_as_each_nodes_state() -> None:
    text = """{
	NRSETS: 1
	RECORDS: {
		SET: {
			ID: 1
			TARGETS: {
				DEST: {
					URI: sip:127.0.0.1:16060
					FLAGS: AP
					PRIORITY: 0
					ATTRS: {
						BODY: duid=node1
						DUID: node1
					}
				}
				DEST: {
					URI: sip:127.0.0.1:16061
					FLAGS: IP
					PRIORITY: 0
					ATTRS: {
						BODY: duid=node2
						DUID: node2
					}
				}
			}
		}
	}
}"""
    found = parse_destinations(text)
    assert [(d.duid, d.state) for d in found] == [("node1", "active"), ("node2", "inactive")]


def test_the_environment_overrides_the_shared_settings_but_not_the_nodes_own() -> None:
    cluster = parse(data())
    secret_url = "postgresql+asyncpg://ivr:s3cret@127.0.0.1:5432/ivr"
    environ = {"IVR_DB_URL": secret_url, "IVR_INSTANCE": "other", "IVR_PORT_SIP": "5060"}

    settings = node_settings(cluster, cluster.nodes[0], environ)

    assert settings.db_url == secret_url  # the password comes from the environment
    assert settings.instance == "center-a" and settings.ports.sip == 16060


def test_an_engine_is_not_given_variables_that_would_undo_its_node() -> None:
    kept = {"IVR_DB_URL": "postgresql+asyncpg://x", "PATH": "/bin", "IVR_DB_PASSWORD": "e"}
    environ = {"IVR_CONFIG": "/c.toml", "IVR_INSTANCE": "prod", "IVR_PORT_SIP": "5060", **kept,
               "IVR_DB_MONITOR_PASSWORD": "m", "IVR_DB_REPLICATION_PASSWORD": "r"}  # fmt: skip
    assert engine_environ(environ) == kept


DB_ENV = {"IVR_DB_PASSWORD": "engines-pw", "IVR_DB_MONITOR_PASSWORD": "monitor-pw",
          "IVR_DB_REPLICATION_PASSWORD": "replication-pw"}  # fmt: skip


def database_values(**table: Any) -> dict[str, Any]:
    values = data(database={"monitor": 16500, "ports": [16501, 16502], **table})
    del values["db_url"]
    return values


def test_a_database_table_gives_every_engine_the_multi_host_address() -> None:
    cluster = parse(database_values(), environ=DB_ENV)

    assert cluster.database is not None and cluster.database.ports == (16501, 16502)
    url = node_settings(cluster, cluster.nodes[1]).db_url
    assert url == (
        "postgresql+asyncpg://ivr:engines-pw@/ivr?host=127.0.0.1:16501&host=127.0.0.1:16502"
        "&target_session_attrs=read-write&ssl=require"
    )
    # the LISTEN connection's DSN: libpq's multi-host form, which asyncpg reads
    assert plain_dsn(url) == (
        "postgresql://ivr:engines-pw@127.0.0.1:16501,127.0.0.1:16502/ivr"
        "?sslmode=require&target_session_attrs=read-write"
    )
    # what `ivr cluster status` prints hides it
    assert "engines-pw" not in cluster.database.shown_url
    assert "engines-pw" not in repr(cluster.database)


def test_the_database_parts_are_made_with_passwords_and_tls_by_default() -> None:
    cluster = parse(database_values(), environ=DB_ENV)
    spec = cluster.database
    assert spec is not None and spec.auth == "scram-sha-256"
    assert spec.security_args() == ["--auth", "scram-sha-256", "--ssl-self-signed"]
    # pg_autoctl is told the monitor's address without the password: ps would show it
    assert spec.monitor_uri == (
        "postgres://autoctl_node@127.0.0.1:16500/pg_auto_failover?sslmode=require"
    )
    assert pgpass_text(spec.monitor, spec.user, spec.passwords).splitlines() == [
        "*:16500:pg_auto_failover:autoctl_node:monitor-pw",
        "*:*:*:pgautofailover_replicator:replication-pw",
        "*:*:*:ivr:engines-pw",
    ]


def test_the_passwords_are_generated_once_into_the_shared_folder(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "cluster-center" / "shared" / "database"
    first = parse(database_values(), home=tmp_path, environ={}).database
    # the engines' own at once (their address); the parts' two when a part needs them
    assert sorted(p.name for p in folder.iterdir()) == ["engines.secret"]
    again = parse(database_values(), home=tmp_path, environ={}).database
    assert first is not None and again is not None and first.passwords is not None
    assert first.passwords == again.passwords
    for kind in ("engines", "monitor", "replication"):
        path = folder / f"{kind}.secret"
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.read_text().strip() == getattr(first.passwords, kind)
    assert len({first.passwords.engines, first.passwords.monitor, first.passwords.replication}) == 3
    # the environment wins over the file
    given = parse(database_values(), home=tmp_path, environ=DB_ENV).database
    wanted = {"engines": "engines-pw", "monitor": "monitor-pw", "replication": "replication-pw"}
    assert given is not None and given.passwords == Passwords(given=wanted)


def test_trust_is_kept_for_loopback_alone() -> None:
    spec = parse(database_values(auth="trust"), environ={}).database
    assert spec is not None and spec.passwords is None
    assert spec.security_args() == ["--auth", "trust", "--no-ssl"]
    assert spec.url.startswith("postgresql+asyncpg://ivr@/ivr?") and "ssl" not in spec.url
    with pytest.raises(ConfigError, match=r"'cluster.database.auth': trust is for loopback alone"):
        parse(database_values(auth="trust", address="10.0.0.5"), environ=DB_ENV)
    with pytest.raises(ConfigError, match="'cluster.database.auth'"):
        parse(database_values(auth="md5"), environ=DB_ENV)
    # the floor holds however the spec is made, and again where the parts are made
    with pytest.raises(ConfigError, match="trust is for loopback alone"):
        DatabaseSpec(monitor=1, ports=(2, 3), address="192.168.1.4", auth="trust")
    widened = object.__new__(DatabaseSpec)  # a spec that skipped its own check
    object.__setattr__(widened, "address", "192.168.1.4")
    object.__setattr__(widened, "auth", "trust")
    with pytest.raises(ConfigError, match="trust is for loopback alone"):
        widened.security_args()
    # on a private address the default is passwords and TLS
    private = parse(database_values(address="10.0.0.5"), environ=DB_ENV).database
    assert private is not None and "--ssl-self-signed" in private.security_args()


def test_scram_needs_its_passwords() -> None:
    spec = DatabaseSpec(monitor=1, ports=(2, 3))
    with pytest.raises(ConfigError, match="without its passwords"):
        spec.security_args()


def test_initdb_trust_lines_leave_pg_hba() -> None:
    made = (
        "# comment\n"
        "local   all             all                                     trust\n"
        "host    all             all             127.0.0.1/32            trust\n"
        "host    all             all             ::1/128                 trust\n"
        "local   replication     all                                     trust\n"
        "host    replication     all             127.0.0.1/32            trust\n"
        'hostssl "ivr" "ivr" 127.0.0.1/32 scram-sha-256 # Auto-generated by pg_auto_failover\n'
        'hostssl all "pgautofailover_monitor" 127.0.0.1/32 trust # Auto-generated by '
        "pg_auto_failover\n"
    )
    lines = [line.split() for line in harden_hba(made).splitlines()]
    assert [f for f in lines if f and f[-1] == "trust"] == []  # but pg_autoctl's own
    assert ["local", "all", "postgres", "peer"] in lines
    assert ["local", "all", "all", "scram-sha-256"] in lines
    assert ["local", "replication", "postgres", "peer"] in lines
    assert not [f for f in lines if f and f[0] == "host"]
    assert 'hostssl all "pgautofailover_monitor" 127.0.0.1/32 trust' in harden_hba(made)
    assert harden_hba(harden_hba(made)) == harden_hba(made)


def test_a_password_with_a_colon_is_escaped_in_the_password_file() -> None:
    spec = DatabaseSpec(
        monitor=1,
        ports=(2, 3),
        passwords=Passwords(given={"engines": "a:b", "monitor": "c\\d", "replication": "e"}),
    )
    assert pgpass_text(spec.monitor, spec.user, spec.passwords).splitlines() == [
        "*:1:pg_auto_failover:autoctl_node:c\\\\d",
        "*:*:*:pgautofailover_replicator:e",
        "*:*:*:ivr:a\\:b",
    ]
    assert "a%3Ab" in spec.url


def test_a_scram_verifier_checks_the_password() -> None:
    verifier = scram_verifier("h4ckm3")
    method, rest = verifier.split("$", 1)
    head, keys = rest.split("$")
    iterations, salt = head.split(":")
    stored, server = keys.split(":")
    assert method == "SCRAM-SHA-256" and int(iterations) == 4096
    # recomputed as the server checks a client's proof: the same password gives the same keys
    salted = hashlib.pbkdf2_hmac("sha256", b"h4ckm3", base64.b64decode(salt), 4096)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    assert base64.b64decode(stored) == hashlib.sha256(client_key).digest()
    assert base64.b64decode(server) == hmac.digest(salted, b"Server Key", "sha256")
    assert "h4ckm3" not in verifier and scram_verifier("h4ckm3") != verifier  # salted


def test_a_node_settings_file_is_the_owners_alone() -> None:
    values = database_values()
    values["cluster"]["name"] = f"mode{os.getpid()}"
    running = Running(parse(values, environ=DB_ENV))
    try:
        path = running.config_file(running.cluster.nodes[0])
        path.parent.mkdir(parents=True)
        path.write_text("# an older file, world-readable\n")
        path.chmod(0o644)
        assert running.render_node(running.cluster.nodes[0])[0] == path
        assert "engines-pw" in path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        shutil.rmtree(running.cluster.run_dir, ignore_errors=True)


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"ports": [16401]}, "two or more"),
        ({"monitor": 16401, "ports": [16401, 16402]}, "ports of their own"),
        ({"address": "8.8.8.8"}, "neither loopback nor private"),
        ({"standby": 1}, "unknown setting"),
    ],
)
def test_a_wrong_database_table_is_refused(table: dict[str, Any], words: str) -> None:
    values = data(database=table)
    del values["db_url"]
    with pytest.raises(ConfigError, match=words):
        parse(values)


def test_a_database_table_and_a_db_url_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="leave db_url out"):
        parse(data(database={}))


def test_a_database_part_is_one_the_table_names() -> None:
    running = Running(parse(database_values(), environ=DB_ENV))
    with pytest.raises(DatabaseError, match="'db3': one of monitor, db1, db2"):
        asyncio.run(running.exec_database("db3"))


def test_a_database_part_needs_the_database_table() -> None:
    with pytest.raises(ConfigError, match=r"no \[cluster.database\]"):
        asyncio.run(Running(parse(data())).exec_database("db1"))


def test_a_part_made_with_trust_is_not_run_under_passwords(tmp_path: Path) -> None:
    spec = DatabaseSpec(monitor=1, ports=(2, 3), passwords=Passwords.new())
    database = FailoverDatabase(spec, tmp_path)
    cfg = tmp_path / "db1" / "config" / "pg_autoctl" / str(database.pgdata("db1")).lstrip("/")
    cfg.mkdir(parents=True)
    (cfg / "pg_autoctl.cfg").write_text("[postgresql]\nauth_method = scram-sha-256\n")
    database._check_made("db1")  # made with passwords: it runs
    hba = database.pgdata("db1") / "pg_hba.conf"
    hba.parent.mkdir(parents=True)
    hba.write_text("host    all             all             127.0.0.1/32            trust\n")
    database._check_made("db1")  # a creation cut short: initdb's trust lines go before it runs
    assert "trust" not in hba.read_text()
    (cfg / "pg_autoctl.cfg").write_text("[postgresql]\nauth_method = trust\n")
    with pytest.raises(DatabaseError, match="db1 was made with --auth trust"):
        database._check_made("db1")
    with pytest.raises(DatabaseError, match="db1 was made with --auth trust"):
        database._run("db1")  # where it would start, nothing starts
    trusting = FailoverDatabase(DatabaseSpec(monitor=1, ports=(2, 3), auth="trust"), tmp_path)
    trusting._check_made("db1")  # asked for on loopback: it runs as it was made
