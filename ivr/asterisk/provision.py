"""Get a real Asterisk 22: the host's own if it has one, else a cached Debian-sid root folder.

Debian 12 has no Asterisk package and sid's need a newer libc, so Asterisk runs in a small
sid root folder (built with mmdebstrap, run with chroot). The folder is built once, into a
cache outside the repo keyed by what it holds, and reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

SUITE = "sid"
# What the root holds: Asterisk, its English and Italian prompts, the music a caller on hold
# hears (architecture-independent files), and the Python that runs the classic
# one-process-per-call AGI script (pyst2 is copied in separately).
PACKAGES = (
    "asterisk",
    "asterisk-core-sounds-en-gsm",
    "asterisk-core-sounds-it-gsm",
    "asterisk-moh-opsound-gsm",
    "python3",
    "python3-six",
    "python3-yaml",
    "python3-sqlalchemy",
)
# sid's index is a dated snapshot whose Release file may have expired.
APT_OPTIONS = ('Acquire::Check-Valid-Until "false"',)


class ProvisionError(Exception):
    pass


def cache_dir() -> Path:
    base = os.environ.get("IVR_CACHE") or os.environ.get("XDG_CACHE_HOME")
    return Path(base) / "ivr" if base else Path.home() / ".cache" / "ivr"


def root_key() -> str:
    text = "\n".join([SUITE, *sorted(PACKAGES), *APT_OPTIONS])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def host_asterisk() -> Path | None:
    found = shutil.which("asterisk")
    return Path(found) if found else None


def default_root() -> Path | None:
    """None when the host has its own asterisk (it wins), else the cached root's path."""
    if host_asterisk() is not None:
        return None
    return cache_dir() / f"asterisk-{SUITE}-{root_key()}"


def apt_mirror() -> str:
    """The machine's own Debian mirror, read from its apt configuration."""
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mirrors = sorted({uri for uri in out if "security" not in uri})
    if not mirrors:
        raise ProvisionError("no Debian mirror in this machine's apt configuration")
    return mirrors[0]


def asterisk_command(root: Path | None) -> list[str]:
    return ["chroot", str(root), "/usr/sbin/asterisk"] if root else ["asterisk"]


def version(root: Path | None) -> str:
    done = subprocess.run(
        [*asterisk_command(root), "-V"], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        raise ProvisionError(f"asterisk -V failed: {done.stderr.strip()}")
    return done.stdout.strip()


def build_root(root: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        raise ProvisionError("mmdebstrap is missing: apt-get install mmdebstrap")
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    command = [
        "mmdebstrap",
        "--variant=apt",
        *[f"--aptopt={option}" for option in APT_OPTIONS],
        "--include=" + ",".join(PACKAGES),
        SUITE,
        str(building),
        apt_mirror(),
    ]
    log.info("building the Asterisk root: %s", " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise ProvisionError(f"mmdebstrap failed ({done.returncode}):\n{tail}")
    building.rename(root)  # only a complete root ever has the final name


def provision() -> tuple[Path | None, str]:
    """The root (None for the host's asterisk) and its version, building it if needed, with
    Asterisk's own account on the host (ivr.asterisk.hostuser), made and checked."""
    from ivr.asterisk.hostuser import AccountError, ensure

    root = default_root()
    if root is not None and not (root / "usr/sbin/asterisk").exists():
        build_root(root)
    if root is not None:
        try:
            ensure(root)
        except AccountError as exc:
            raise ProvisionError(f"Asterisk's account: {exc}") from exc
    return root, version(root)
