"""`ivr billing` and `ivr verify` as a manager uses them: their help, a month's draw (once),
its check from the seed, the statement printed and written as CSV and HTML, a file of
payments with a bad row, issuing, the dispute report, a decision, the log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from billing_world import World, make_world, rome

from ivr.__main__ import main
from ivr.billing import disputes
from ivr.harness.ports import free_tcp_port


def with_world(tmp_path: Path, work: Callable[[World], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        world = await make_world(tmp_path)
        try:
            return await work(world)
        finally:
            await world.engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str]]:
    world: World = with_world(tmp_path, lambda w: asyncio.sleep(0, w))
    env = {
        "IVR_INSTANCE": "billingtest", "IVR_DB_URL": world.settings.db_url,
        "IVR_RULES": str(world.settings.rules), "IVR_AMI_SECRET": "x", "IVR_AGI_TOKEN": "t",
        "IVR_ASTERISK_ROOT": str(tmp_path), "IVR_CLOCK_START": "2027-04-05T12:00:00+02:00",
        "IVR_PORT_HTTP": str(free_tcp_port()),  # no engine there: nothing is woken
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
            print(exc.code if not isinstance(exc.code, int) else "", end="")
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


def test_help_speaks_to_a_manager(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["billing", "--help"], ["verify", "--help"], ["billing", "decide", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "usage: ivr" in text
    assert "examples:" in text or "credit: the result is no longer billed" in text


def test_a_month_from_the_shell(
    tmp_path: Path, shell: Callable[..., tuple[int, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    async def month(world: World) -> int:
        for d, op in ((2, "op1"), (3, "op1"), (4, "op2"), (5, "op2"), (6, "op3")):
            await world.appointment(rome(d), operator=op)
        return await world.promise("400", rome(3), invoice="F-77")

    with_world(tmp_path, month)
    code, out = shell("verify", "draw", "--month", "2027-04", capsys=capsys)
    assert code == 1 and "cannot be drawn before 2027-05-03" in out
    code, out = shell("verify", "draw", "--month", "2027-03", capsys=capsys)
    assert code == 0 and "acme 2027-03: drew 3 of 5 appointments (seed " in out
    assert "bravo had no appointments in 2027-03" in out
    assert "no engine is running" in out
    code, out = shell("verify", "draw", "--month", "2027-03", capsys=capsys)
    assert "drawn before" in out and "never again" in out
    code, out = shell("verify", "show", "--month", "2027-03", "--client", "acme", capsys=capsys)
    assert "drawn again from the seed: yes" in out and "population (5)" in out

    payments = tmp_path / "pagamenti.csv"
    payments.write_text("fattura;importo;data\nF-77;400,00;10/03/2027\nF-99;12;10/03/2027\n")
    code, out = shell("billing", "payments", "acme", str(payments), capsys=capsys)
    assert code == 1 and "1 payments confirmed" in out
    assert "pagamenti.csv:3: invoice: No promise to pay matches this row." in out

    out_dir = tmp_path / "out"
    code, out = shell("billing", "statement", "acme", "--month", "2027-03", "--out",
                      str(out_dir), capsys=capsys)  # fmt: skip
    # 5 appointments: 50 + 50 + 70 x 3 = 310; 10 % of 400 = 40.
    assert code == 0 and "TOTAL EUR 350.00" in out and "draft: not issued yet" in out
    assert "Band 2 reached: 1 more appointment to reach band 3" in out
    assert (out_dir / "acme-2027-03.csv").read_text(encoding="utf-8-sig").splitlines()[-1] \
        .endswith(",350.00,,")  # fmt: skip
    assert "@media print" in (out_dir / "acme-2027-03.html").read_text()

    code, out = shell("billing", "issue", "acme", "--month", "2027-03", "--by", "anna",
                      capsys=capsys)  # fmt: skip
    assert code == 0 and "issued: EUR 350.00" in out
    code, out = shell("billing", "issue", "acme", "--month", "2027-03", capsys=capsys)
    assert "was issued before" in out and "by anna" in out

    async def contest(world: World) -> int:
        made, _ = await disputes.file(world.sessions, world.campaigns, "acme", "Europe/Rome",
                                      "A1", "did-not-happen", "nobody came", "admin",
                                      rome(6, month=4))  # fmt: skip
        assert made is not None
        return made.id

    contest_id = with_world(tmp_path, contest)
    code, out = shell("billing", "disputes", "acme", "--month", "2027-03", capsys=capsys)
    assert f"contest {contest_id} on A1 (appointment" in out and "note: nobody came" in out
    assert "booking call" in out and "decision: open" in out
    code, out = shell("billing", "decide", "acme", str(contest_id), "credit", "--by", "boss",
                      "--note", "goodwill", capsys=capsys)  # fmt: skip
    assert code == 0 and "credited, decided by boss" in out
    code, out = shell("billing", "log", "acme", capsys=capsys)
    assert "anna: statement 2027-03 issued" in out and "boss: contest 1 decided: credit" in out
    code, out = shell("billing", "statement", "nobody", "--month", "2027-03", capsys=capsys)
    assert code != 0 and "'nobody' is not a client billed per result" in out
