#!/bin/bash
# `make docker-test`: build every image of docker/ locally with podman (the base from
# mmdebstrap, imported: no registry is needed), start the compose cluster, place calls
# through Kamailio with sipp, kill the database's primary under them, check their records in
# PostgreSQL (the promoted standby), tear it all down.
# Its own set-up (podman, runc, podman-compose) is installed here: `make test` needs none.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/var/docker
PY=$ROOT/.venv/bin/python
mkdir -p "$WORK"

missing=""
for pkg in podman runc mmdebstrap sip-tester; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    ${SUDO:-} apt-get update -q
    DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -q --no-install-recommends $missing
fi
# Debian's podman-compose (1.0.3) refuses network_mode: host; a newer one in its own venv.
if [ ! -x "$WORK/compose/bin/podman-compose" ]; then
    python3 -m venv "$WORK/compose"
    "$WORK/compose/bin/pip" install -q 'podman-compose>=1.1'
fi
# Limits and runtime that also work inside a sandboxed CI machine (nothing in /etc changes).
hard=$(ulimit -Hn)
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$hard:$hard", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$WORK/containers.conf

if ! podman image exists localhost/debian:sid-slim; then
    mirror=$("$PY" -c 'from ivr.asterisk.provision import apt_mirror; print(apt_mirror())')
    echo "base image: Debian sid from $mirror"
    mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
        sid - "$mirror" | podman import - localhost/debian:sid-slim
fi
# pip inside the build trusts what this machine's pip trusts (a mount at build time only).
mounts=()
cert=${PIP_CERT:-$("$PY" -m pip config get global.cert 2>/dev/null || true)}
if [ -n "$cert" ] && [ -f "$cert" ]; then
    printf '[global]\ncert = /run/host-ca.crt\n' > "$WORK/pip.conf"
    mounts=(-v "$cert:/run/host-ca.crt:ro" -v "$WORK/pip.conf:/etc/pip.conf:ro")
fi
podman build --pull=never -q --label ivr.built-by=docker-test "${mounts[@]}" -f docker/Dockerfile -t localhost/ivr-node:latest .
podman build --pull=never -q --label ivr.built-by=docker-test -f docker/kamailio.Dockerfile -t localhost/ivr-kamailio:latest .
podman build --pull=never -q --label ivr.built-by=docker-test -f docker/database.Dockerfile -t localhost/ivr-database:latest .

IVR_CONTROL_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')
export IVR_CONTROL_TOKEN
IVR_PROXY_TOKEN=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')
export IVR_PROXY_TOKEN
# The database's passwords (compose.yaml hands them to the parts and the engines; check.py
# reads them to query the records and the monitor): new for each run, kept nowhere.
for name in IVR_DB_PASSWORD IVR_DB_MONITOR_PASSWORD IVR_DB_REPLICATION_PASSWORD; do
    export "$name=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')"
done
compose=("$WORK/compose/bin/podman-compose" -p ivr-docker-test -f docker/compose.yaml)
down() {
    "${compose[@]}" logs > "$WORK/compose.log" 2>&1 || true
    "${compose[@]}" down -v > /dev/null 2>&1 || true
    # the images an earlier build left without a name (ours alone, by label)
    podman image prune -f --filter label=ivr.built-by=docker-test > /dev/null 2>&1 || true
}
"${compose[@]}" down -v > /dev/null 2>&1 || true  # what an interrupted run left
trap down EXIT
"${compose[@]}" up -d
"$PY" docker/check.py --project ivr-docker-test --config docker/cluster.toml
