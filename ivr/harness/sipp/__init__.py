"""Real SIP callers and operator phones, played by sipp (Debian package sip-tester).

Used by `ivr demo`, the benchmarks and the end-to-end tests. Every address is on loopback:
callers come from the trunk address (127.0.0.2 by default), phones from 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ivr.harness.ports import free_media_port, free_udp_port

log = logging.getLogger(__name__)

SCENARIOS = Path(__file__).resolve().parent
DTMF_KEYS = frozenset("0123456789*#ABCD")
_DTMF_BLOCK = re.compile(r"  <!-- DTMF -->\n(.*?)  <!-- /DTMF -->\n", re.S)
_STAT = re.compile(
    r"^\s*(Successful call|Failed call|Total Calls created)\s*\|[^|]*\|\s*(\d+)", re.M
)


class SippError(Exception):
    pass


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if found is None:
        raise SippError("sipp is missing: apt-get install sip-tester")
    return found


@dataclass(frozen=True)
class SippResult:
    returncode: int
    created: int
    successful: int
    failed: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


def parse_result(returncode: int, output: str) -> SippResult:
    stats = {name: int(value) for name, value in _STAT.findall(output)}
    return SippResult(
        returncode=returncode,
        created=stats.get("Total Calls created", 0),
        successful=stats.get("Successful call", 0),
        failed=stats.get("Failed call", 0),
        output=output,
    )


async def _run(args: list[str], timeout: float, cwd: Path | None = None) -> SippResult:
    proc = await asyncio.create_subprocess_exec(
        sipp_binary(),
        *args,
        "-nostdin",
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")[-2000:]
        raise SippError(f"sipp {' '.join(args[:2])} timed out after {timeout} s\n{text}") from None
    assert proc.returncode is not None
    return parse_result(proc.returncode, out.decode(errors="replace"))


async def run_scenario(args: list[str], timeout: float, cwd: Path | None = None) -> SippResult:
    """sipp with these arguments (a scenario of one's own), its statistics read back."""
    return await _run(args, timeout, cwd)


async def place_calls(
    server: tuple[str, int],
    number: str,
    *,
    count: int = 1,
    rate: float = 10.0,
    limit: int | None = None,
    caller_num: str = "0399999999",
    caller_name: str = "Caller",
    hold_ms: int = 1000,
    bind: str = "127.0.0.2",
    timeout: float = 60.0,
    extra: tuple[str, ...] = (),
    cwd: Path | None = None,
    digits: str = "",
    dtmf_delay_ms: int = 1000,
    audio: Path | None = None,
    scenario: Path | None = None,
) -> SippResult:
    """Place `count` calls to `number`; each stays `hold_ms` once answered, then hangs up.

    With `digits`, each call presses those keys once answered (SIP INFO), `dtmf_delay_ms`
    before each, and stays `hold_ms` after the last one. With `audio` (a WAV file of 8 kHz
    G.711 mu-law, as `sox ... -r 8000 -c 1 -e u-law` writes it) the caller speaks it once
    answered, as RTP: what a caller says into a message box.
    caller_name goes into a SIP quoted-string as it is: escape `"` and `\\` yourself.
    `scenario`: another caller scenario with the same keys (an unusual request URI).
    """
    with tempfile.TemporaryDirectory(prefix="ivr-sipp-") as folder:
        scenario = scenario or SCENARIOS / "caller.xml"
        if digits and audio:
            raise SippError("a caller either presses keys or speaks, not both")
        if digits:
            scenario = Path(folder) / "caller_dtmf.xml"
            scenario.write_text(dtmf_scenario(digits, dtmf_delay_ms))
        if audio:
            scenario = Path(folder) / "caller_speaks.xml"
            scenario.write_text(speaking_scenario(audio))
        args = [
            "-sf", str(scenario),
            "-i", bind, "-p", str(free_udp_port(bind)), "-mp", str(free_media_port(bind)),
            "-s", number,
            "-key", "caller_num", caller_num,
            "-key", "caller_name", caller_name,
            "-d", str(hold_ms),
            "-m", str(count), "-r", str(rate),
            *(["-l", str(limit)] if limit else []),
            *extra,
            f"{server[0]}:{server[1]}",
        ]  # fmt: skip
        return await _run(args, timeout, cwd)


def speaking_scenario(audio: Path) -> str:
    """caller.xml whose caller streams `audio` (PCMU) from the moment it is answered."""
    if "," in str(audio) or not audio.is_file():
        raise SippError(f"audio {audio}: a file whose path has no comma")
    template = (SCENARIOS / "caller.xml").read_text()
    stream = f'<nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>\n  <pause/>'
    assert template.count("<pause/>") == 1, "caller.xml lost its pause"
    return template.replace("<pause/>", stream).replace("[media_port]", "[rtpstream_audio_port]")


def dtmf_scenario(digits: str, delay_ms: int) -> str:
    """caller_dtmf.xml with its DTMF block once per key, each INFO with the next CSeq."""
    wrong = set(digits) - DTMF_KEYS
    if wrong or not digits:
        raise SippError(f"digits {digits!r}: one or more of 0-9 * # A-D")
    template = (SCENARIOS / "caller_dtmf.xml").read_text()
    found = _DTMF_BLOCK.search(template)
    assert found is not None, "caller_dtmf.xml lost its DTMF block"
    blocks = "".join(
        found.group(1)
        .replace("DTMF_DELAY_MS", str(max(1, delay_ms)))  # sipp reads 0 as no pause at all
        .replace("DTMF_CSEQ", str(2 + n))
        .replace("DIGIT", key)
        for n, key in enumerate(digits)
    )
    body = template[: found.start()] + blocks + template[found.end() :]
    return body.replace("BYE_CSEQ", str(2 + len(digits)))


class Phone:
    """An operator's SIP phone: an answering sipp that a second sipp registers."""

    def __init__(
        self,
        operator: str,
        password: str,
        server: tuple[str, int],
        workdir: Path,
        *,
        ring_ms: int = 300,
        bind: str = "127.0.0.1",
    ) -> None:
        self.operator = operator
        self.password = password
        self.server = server
        self.workdir = workdir
        self.ring_ms = max(1, ring_ms)  # sipp reads a timeout of 0 as no timeout at all
        self.bind = bind
        self.port = free_udp_port(bind)
        self.process: asyncio.subprocess.Process | None = None
        self.log_path = workdir / f"phone-{operator}.log"

    async def start(self, timeout: float = 20.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        scenario = self.workdir / f"phone-{self.operator}.xml"
        template = (SCENARIOS / "operator.xml").read_text()
        scenario.write_text(template.replace("RING_MS", str(self.ring_ms)))
        with open(self.log_path, "wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sipp_binary(),
                "-sf", str(scenario),
                "-i", self.bind, "-p", str(self.port), "-mp", str(free_media_port(self.bind)),
                "-nostdin",
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        await self.register(timeout=timeout)

    async def register(self, expires: int = 3600, timeout: float = 20.0) -> None:
        result = await _run(
            [
                "-sf",
                str(SCENARIOS / "register.xml"),
                "-i",
                self.bind,
                "-p",
                str(free_udp_port(self.bind)),
                "-s",
                self.operator,
                "-au",
                self.operator,
                "-ap",
                self.password,
                "-key",
                "contact_port",
                str(self.port),
                "-key",
                "expires",
                str(expires),
                "-m",
                "1",
                "-recv_timeout",
                "5000",
                f"{self.server[0]}:{self.server[1]}",
            ],  # fmt: skip
            timeout,
        )
        if not result.ok:
            raise SippError(
                f"phone {self.operator} could not register (rc {result.returncode}):\n"
                + result.output[-1500:]
            )

    def result(self) -> SippResult:
        """What the answering side did so far (read once it has stopped)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        code = self.process.returncode if self.process else -1
        return parse_result(code if code is not None else -1, text)

    async def stop(self) -> None:
        with contextlib.suppress(SippError, OSError):
            await self.register(expires=0, timeout=10)
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
