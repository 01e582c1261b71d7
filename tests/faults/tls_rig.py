"""HTTPS in front of the engine, as docs/https.md deploys it: a certificate authority and a
server certificate made here with openssl, and Debian's nginx terminating TLS on the loopback
and passing requests to the engine's HTTP port with X-Forwarded-For and X-Forwarded-Proto."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ssl
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ivr.harness.nginx import nginx as run_nginx
from ivr.harness.ports import free_tcp_port

# The site as docs/https.md shows it; {names} are filled in by `site_conf`.
SITE = """
server {{
    listen {listen} ssl;
    server_name {name};
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 10m;
    client_body_buffer_size 10m;  # forms stay in memory (no temporary files)

    # The control API and the metrics are not for the outside: the engine's own port only.
    location /api/ {{ return 404; }}
    location = /metrics {{ return 404; }}
    location /campaigns/ {{ return 404; }}

    location / {{
        proxy_pass http://{engine};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_buffering off;  # the pages' event streams
        proxy_read_timeout 1h;
    }}
}}
"""


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        """A client's TLS context that trusts our authority alone."""
        return ssl.create_default_context(cafile=str(self.ca))

    def spki(self) -> str:
        """The server key's SPKI SHA-256, base64: what Chromium is told to trust."""
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-pubkey", "-noout"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        key = subprocess.run(
            ["openssl", "pkey", "-pubin", "-outform", "der"], input=der, check=True,
            capture_output=True,
        ).stdout  # fmt: skip
        return base64.b64encode(hashlib.sha256(key).digest()).decode()


def make_certs(folder: Path, name: str = "localhost") -> Certs:
    """A throwaway authority and a server certificate for name and 127.0.0.1 (2 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.crt", folder / "ca.key"
    cert, key, csr = folder / "server.crt", folder / "server.key", folder / "server.csr"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=ivr test authority", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
    extensions = folder / "server.ext"
    extensions.write_text(
        f"subjectAltName=DNS:{name},IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(extensions))  # fmt: skip
    key.chmod(0o600)
    return Certs(ca, cert, key)


def site_conf(listen: str, name: str, certs: Certs, engine: str) -> str:
    return SITE.format(listen=listen, name=name, cert=certs.cert, key=certs.key, engine=engine)


@contextlib.asynccontextmanager
async def nginx(certs: Certs, engine_port: int, name: str = "localhost") -> AsyncIterator[int]:
    """nginx serving HTTPS on a free loopback port in front of the engine; yields the port."""
    port = free_tcp_port()
    with tempfile.TemporaryDirectory(prefix="ivr-nginx-") as folder:
        site = site_conf(f"127.0.0.1:{port}", name, certs, f"127.0.0.1:{engine_port}")
        async with run_nginx(Path(folder), site, port):
            yield port
