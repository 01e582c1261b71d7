"""The cluster's settings file (ivr/cluster/spec.py) and what is rendered from it: each
node's engine settings (trusting Kamailio's address and port alone), Kamailio's config
(accepted by `kamailio -c`) and its dispatcher list; what kamcmd says of the nodes."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ivr.cluster.database import DatabaseError
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
    kept = {"IVR_DB_URL": "postgresql+asyncpg://x", "PATH": "/bin"}
    environ = {"IVR_CONFIG": "/c.toml", "IVR_INSTANCE": "prod", "IVR_PORT_SIP": "5060", **kept}
    assert engine_environ(environ) == kept


def test_a_database_table_gives_every_engine_the_multi_host_address() -> None:
    values = data(database={"monitor": 16500, "ports": [16501, 16502]})
    del values["db_url"]
    cluster = parse(values)

    assert cluster.database is not None and cluster.database.ports == (16501, 16502)
    url = node_settings(cluster, cluster.nodes[1]).db_url
    assert url == (
        "postgresql+asyncpg://ivr@/ivr?host=127.0.0.1:16501&host=127.0.0.1:16502"
        "&target_session_attrs=read-write"
    )
    # the LISTEN connection's DSN: libpq's multi-host form, which asyncpg reads
    assert plain_dsn(url) == (
        "postgresql://ivr@127.0.0.1:16501,127.0.0.1:16502/ivr?target_session_attrs=read-write"
    )


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
    values = data(database={"monitor": 16500, "ports": [16501, 16502]})
    del values["db_url"]
    running = Running(parse(values))
    with pytest.raises(DatabaseError, match="'db3': one of monitor, db1, db2"):
        asyncio.run(running.exec_database("db3"))


def test_a_database_part_needs_the_database_table() -> None:
    with pytest.raises(ConfigError, match=r"no \[cluster.database\]"):
        asyncio.run(Running(parse(data())).exec_database("db1"))
