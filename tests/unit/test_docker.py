"""docker/: the build context holds no secrets or data, and the image runs as a non-root
user. The context is built as the Docker SDK builds it for the daemon (docker-py's tar of
the project's root filtered by its .dockerignore), so this is what an image could contain."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from docker.utils.build import tar

ROOT = Path(__file__).resolve().parents[2]


def context_names() -> set[str]:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    with tar(str(ROOT), exclude=patterns, dockerfile=("docker/Dockerfile", None)) as context:
        return set(tarfile.open(fileobj=context).getnames())


def test_the_build_context_has_no_state_history_or_environment() -> None:
    probe = ROOT / "var" / "docker-probe"  # a state folder with a secret, as a host has
    probe.mkdir(parents=True, exist_ok=True)
    (probe / "ami.secret").write_text("x\n")
    try:
        names = context_names()
    finally:
        shutil.rmtree(probe)

    tops = {name.split("/", 1)[0] for name in names}
    assert not tops & {"var", ".git", ".venv", "tests"}
    assert not [n for n in names if n.endswith((".secret", ".db", ".pyc"))]
    assert {"pyproject.toml", "docker/Dockerfile", "docker/entrypoint.sh"} <= names
    assert {"ivr/engine.py", "agi_scripts/routes.py", "dialplan/extensions.conf.j2"} <= names


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    instructions = [
        line.split(None, 1)
        for line in (ROOT / "docker" / "Dockerfile").read_text().splitlines()
        if line and not line.startswith((" ", "#"))
    ]
    users = [args.strip() for word, *rest in instructions if word == "USER" for args in rest]
    assert users and users[-1] not in {"root", "0", "0:0"}
    last_user = max(i for i, (word, *_) in enumerate(instructions) if word == "USER")
    assert all(word != "RUN" for word, *_ in instructions[last_user:])
