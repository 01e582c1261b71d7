"""The consoles of a cluster's engines behind one address, as a center publishes them: Debian's
nginx on a free loopback port passing requests (event streams and the phone's WebSocket
too) to the first node's engine, and to the next one when it does not answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from ivr.harness.nginx import nginx
from ivr.harness.ports import free_tcp_port

SITE = """
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
"""


@contextlib.asynccontextmanager
async def front(folder: Path, first: int, second: int) -> AsyncIterator[int]:
    """nginx in front of two engines' HTTP ports; yields its port."""
    port = free_tcp_port()
    async with nginx(folder, SITE.format(port=port, first=first, second=second), port):
        yield port
