"""The consoles of a cluster's engines behind one address, as a center publishes them: Debian's
nginx on a free loopback port passing requests (event streams and the phone's WebSocket
too) to the first node's engine, and to the next one when it does not answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ivr.harness.ports import accepting, free_tcp_port

NGINX = "/usr/sbin/nginx"

CONF = """
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    upstream engines {{
        server 127.0.0.1:{first} max_fails=1 fail_timeout=60s;
        server 127.0.0.1:{second} backup;
    }}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://engines;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout;
            proxy_buffering off;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


@contextlib.asynccontextmanager
async def front(folder: Path, first: int, second: int) -> AsyncIterator[int]:
    """nginx in front of two engines' HTTP ports; yields its port."""
    port = free_tcp_port()
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(CONF.format(folder=folder, port=port, first=first, second=second))
    process = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(folder), "-c", str(conf),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await accepting(port, process, 20)
        yield port
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
