"""Callers' numbers and names blanked in Asterisk's account file, in place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ivr.account.cel import account_path, read_account
from ivr.account.privacy import blank_account

RULES = Path(__file__).resolve().parents[1] / "e2e" / "rules"


def line(t: str, lid: str, num: str, name: str, exten: str = "0611000001") -> str:
    values = ["CHAN_START", t, lid, lid, "PJSIP/trunk-1", "ivr-in-trunk", exten, num, name, "", ""]
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "ivr-cel.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_an_erasure_blanks_the_callers_lines_and_keeps_every_byte_position(tmp_path: Path):
    hostile = 'Zoë "the boss"\nO\'Neil, 山田'
    path = write(
        tmp_path,
        line("1000", "1.1", "0612600001", hostile),
        line("1001", "2.2", "0699999999", "Someone else"),
        line("1002", "3.3", "3395551234", "Bob"),  # the same call as a line naming the number
        line("1003", "3.3", "", "", exten="0612600001"),  # a call placed to the number
    )
    size = path.stat().st_size
    other_at = read_account(path, 0)[0]["2.2"].first_position

    changed = blank_account(
        path, linkedids=frozenset({"3.3"}), numbers=frozenset({"0612600001", "+39612600001"})
    )

    data = path.read_bytes()
    assert changed == 3 and len(data) == size
    assert b"0612600001" not in data and "山田".encode() not in data and b"Bob" not in data
    calls, end = read_account(path, 0)
    assert end == size and sorted(calls) == ["1.1", "2.2", "3.3"]
    erased = calls["1.1"].events[0]
    assert (erased.caller_number, erased.caller_name, erased.linkedid) == ("", "", "1.1")
    kept = calls["2.2"]
    assert kept.first_position == other_at
    assert (kept.events[0].caller_number, kept.events[0].caller_name) == (
        "0699999999",
        "Someone else",
    )


def test_the_purge_blanks_lines_older_than_the_cutoff_only(tmp_path: Path):
    cutoff = datetime.fromtimestamp(2000, UTC)
    path = write(
        tmp_path,
        line("1999.5", "1.1", "0612600001", "Old"),
        line("2000.5", "2.2", "0612600002", "New"),
    )

    assert blank_account(path, before=cutoff) == 1
    assert blank_account(path, before=cutoff) == 0  # nothing left to blank

    calls, _ = read_account(path, 0)
    assert calls["1.1"].events[0].caller_number == ""
    assert calls["2.2"].events[0].caller_number == "0612600002"


def test_a_record_being_appended_is_left_alone(tmp_path: Path):
    complete = line("1000", "1.1", "0612600001", "A")
    partial = line("1001", "2.2", "0612600001", "B")[:30]  # Asterisk is still writing it
    path = write(tmp_path, complete, partial)

    assert blank_account(path, numbers=frozenset({"0612600001"})) == 1
    assert path.read_text(encoding="utf-8").endswith(partial)


def test_no_account_file_is_nothing_to_do(tmp_path: Path):
    assert blank_account(tmp_path / "missing.csv", numbers=frozenset({"1"})) == 0


def test_with_a_clusters_file_every_nodes_account_on_this_host_is_covered(tmp_path: Path):
    from ivr.cluster.spec import load as load_cluster
    from ivr.cluster.spec import node_settings
    from ivr.privacy.run import settings_and_accounts

    file = tmp_path / "cluster.toml"
    file.write_text(
        f'db_url = "postgresql+asyncpg://ivr@127.0.0.1:5432/ivr"\nrules = "{RULES}"\n'
        '[cluster]\nname = "center"\nport = 17000\n'
        '[[cluster.nodes]]\nname = "a"\n[[cluster.nodes]]\nname = "b"\n'
    )
    cluster = load_cluster(file)
    nodes = [node_settings(cluster, node) for node in cluster.nodes]

    settings, found = settings_and_accounts(file)

    assert settings.db_url == "postgresql+asyncpg://ivr@127.0.0.1:5432/ivr"
    assert found == [account_path(node) for node in nodes] and found[0] != found[1]
    single = tmp_path / "one.toml"
    single.write_text(f'rules = "{RULES}"\ninstance = "solo"\n')
    settings, found = settings_and_accounts(single)
    assert settings.instance == "solo" and found == [account_path(settings)]


async def test_the_daily_account_purge_blanks_lines_past_the_shortest_retention_of_numbers(
    tmp_path: Path,
):
    from ivr.privacy.run import purge_account
    from ivr.routing import load_rules

    rules = load_rules(RULES)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    shortest = min([rules.retention.numbers] + [c.retention.numbers for c in
                   rules.clients.values() if c.retention])  # fmt: skip
    edge = now.timestamp() - shortest * 86400
    path = write(tmp_path, line(str(edge - 1), "1.1", "0612600001", "Old"),
                 line(str(edge + 1), "2.2", "0612600002", "Kept"))  # fmt: skip

    assert await purge_account(path, rules, now) == 1
    calls, _ = read_account(path, 0)
    assert calls["1.1"].events[0].caller_number == ""
    assert calls["2.2"].events[0].caller_number == "0612600002"
