"""Debian's nginx as the tests put it in front of engines: one main file around the site a
test gives, its temporary folders, the configuration checked before it runs, and its port
waited for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

NGINX = "/usr/sbin/nginx"

MAIN = """
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    {site}
}}
"""


async def _accepting(port: int, process: asyncio.subprocess.Process, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if process.returncode is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)  # nginx is binding its port
            continue
        writer.close()
        await writer.wait_closed()
        return


@contextlib.asynccontextmanager
async def nginx(folder: Path, site: str, port: int) -> AsyncIterator[None]:
    """nginx running `site` (its `http` block's contents) from `folder` until the block ends;
    the site listens on loopback `port`."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(MAIN.format(folder=folder, site=site))
    check = await asyncio.create_subprocess_exec(
        NGINX, "-t", "-q", "-p", str(folder), "-c", str(conf),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await check.communicate()
    if check.returncode != 0:
        raise RuntimeError(f"nginx refuses {conf}: {out.decode()}")
    process = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(folder), "-c", str(conf),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await _accepting(port, process, 20)
        yield
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
