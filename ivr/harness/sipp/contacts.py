"""The phones of an outbound campaign's contacts, behind the trunk: one sipp answering side
(campaign_contacts.xml) that behaves by the number dialled: answers, is busy, never answers,
hangs up, is a machine. For the end-to-end tests and `ivr demo --campaign`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import SCENARIOS, sipp_binary

TRUNK = "127.0.0.2"


def contact_number(kind: int, n: int) -> str:
    """A contact's number as a list writes it: 06, the behaviour (71..77), then n."""
    return f"06{kind}{n:05d}"


def _sound(path: Path, *effects: str) -> None:
    subprocess.run(  # noqa: S603
        ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", str(path), *effects],  # noqa: S607
        check=True,
    )


class AnsweringPhones:
    """One sipp answering side behind the trunk (address:port), playing `scenario`: the
    phones the engine calls out to (campaign contacts, ladder contacts, a client's people)."""

    def __init__(
        self, scenario: Path, workdir: Path, address: str = TRUNK, extra: tuple[str, ...] = ()
    ) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.address = address
        self.extra = extra
        self.port = free_udp_port(address)
        self.name = scenario.stem
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._run(self.scenario)

    def _run(self, scenario: Path) -> None:
        with open(self.workdir / f"{self.name}.log", "wb") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [sipp_binary(), "-sf", str(scenario), "-i", self.address, "-p", str(self.port),
                 "-mp", str(free_media_port(self.address)), "-nostdin", "-trace_err",
                 "-error_file", str(self.workdir / f"{self.name}.err"), *self.extra],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ContactPhones(AnsweringPhones):
    """campaign_contacts.xml, with the sounds it plays made first."""

    def __init__(self, workdir: Path, address: str = TRUNK) -> None:
        super().__init__(workdir / "contacts.xml", workdir, address)

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        hello = self.workdir / "hello.wav"  # a short "hello", then silence: a person for AMD()
        _sound(hello, "synth", "0.6", "sine", "440", ":", "synth", "3", "sine", "0", "vol", "0")
        silence = self.workdir / "silence.wav"
        _sound(silence, "synth", "7", "sine", "0", "vol", "0")
        text = (SCENARIOS / "campaign_contacts.xml").read_text()
        text = text.replace("HELLO_WAV", str(hello)).replace("SILENCE_WAV", str(silence))
        self.scenario.write_text(text)
        self._run(self.scenario)
