"""What Asterisk needs to know of the browser phones: where their passwords live, how long a
registration lasts, and which ICE host candidates this machine offers.

The browser phones' passwords are Asterisk sorcery `auth` objects in its internal database
(family WEB_AUTH_FAMILY/auth, one JSON value per endpoint), written and deleted by the engine
over AMI: nothing long-lived is rendered into pjsip.conf for them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import shutil
import subprocess

log = logging.getLogger(__name__)

WEB_AUTH_FAMILY = "ivr_web"
AUTH_FAMILY = f"{WEB_AUTH_FAMILY}/auth"  # where res_sorcery_astdb keeps the auth objects
# Seconds a browser's registration lasts; the page renews it well before. A page that is
# gone without closing its connection lapses within this.
REGISTER_EXPIRES = 120


# The AMI user that writes those passwords: `system` (DBPut, DBDel) and nothing else, so that
# the engine's main user keeps its floor (no `system`: no Originate of System or Exec) and
# this one can originate nothing.
PHONES_AMI_USER = "ivr-phones"


def phones_ami_secret(ami_secret: str) -> str:
    """The phones' AMI user's secret, derived from the engine's generated AMI secret."""
    return hmac.new(ami_secret.encode(), b"browser phones", hashlib.sha256).hexdigest()


def auth_value(username: str, password: str) -> str:
    """The sorcery JSON of one userpass auth object, as res_sorcery_astdb reads it."""
    return json.dumps(
        {"auth_type": "userpass", "username": username, "password": password},
        separators=(",", ":"),
    )


def ice_host_candidates(media_address: str) -> list[str]:
    """This machine's other IPv4 addresses: Asterisk would offer each as an ICE host
    candidate; rtp.conf maps them all to the media address that RTP is bound to."""
    ip = shutil.which("ip")
    if ip is None:
        log.warning("no `ip` command: ICE host candidates are Asterisk's own choice")
        return []
    done = subprocess.run([ip, "-j", "-4", "addr", "show"], capture_output=True, text=True)
    if done.returncode != 0:
        log.warning("ip addr failed: %s", done.stderr.strip())
        return []
    found: list[str] = []
    for interface in json.loads(done.stdout or "[]"):
        for info in interface.get("addr_info", []):
            address = info.get("local", "")
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                continue
            if address != media_address and address not in found:
                found.append(address)
    return found
