# Two commands do all the set-up on a fresh Debian 12 machine: `make demo` and `make test`.
# Each step leaves a stamp so that the second run rebuilds nothing that is already there.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := var/stamps
# libatomic1: the node that Playwright's Python package runs needs it.
# postgresql-15-auto-failover, pg-auto-failover-cli: the database that fails over (a monitor
# and two data nodes, `ivr cluster` with a [cluster.database] table; docs/high-availability.md).
# nginx: the TLS proxy in front of the web apps (docs/https.md, tests/faults/test_https.py).
# kamailio-websocket-modules: a cluster's browser phones register at Kamailio over its
# WebSocket (docs/browser-phone.md).
# openssl: pg_autoctl makes each database part's self-signed TLS certificate with it.
DEB_PACKAGES := mmdebstrap sip-tester espeak-ng sox chromium postgresql iproute2 libatomic1 kamailio \
    kamailio-websocket-modules openssl \
    postgresql-15-auto-failover pg-auto-failover-cli \
    nginx
PYTEST_ARGS ?=
# The suite runs in PYTEST_WORKERS processes (pytest-xdist), each test file whole in one of
# them, so that a module's shared stack stays in one process; every instance a test starts has
# its own name, ports, folders and database. PYTEST_WORKERS=0: one process. Four on two cores:
# most of a real call's test is waiting on Asterisk's timers (the whole suite keeps the CPU
# under half busy on two workers).
PYTEST_WORKERS ?= 4

.PHONY: demo test lint unit e2e bench soak docker-test sysdeps venv asterisk clean webphone

demo: $(STAMP)/venv $(STAMP)/sysdeps
	$(BIN)/ivr asterisk provision
	$(BIN)/ivr demo

test: $(STAMP)/venv $(STAMP)/sysdeps
	$(BIN)/ivr asterisk provision
	$(MAKE) lint
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=30 $(PYTEST_ARGS)

lint: $(STAMP)/venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/ivr check routing_rules

bench: $(STAMP)/venv $(STAMP)/sysdeps
	$(BIN)/ivr asterisk provision
	$(BIN)/python -m bench

# SOAK_ARGS="--calls 1200 --rate 20 --hold-ms 3000" (the defaults)
soak: $(STAMP)/venv $(STAMP)/sysdeps
	$(BIN)/ivr asterisk provision
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

# Builds every image of docker/ with podman, runs the compose cluster, calls through it,
# checks the records, tears it down (podman and podman-compose are installed by it).
docker-test: $(STAMP)/venv $(STAMP)/sysdeps
	bash docker/test.sh

sysdeps: $(STAMP)/sysdeps
venv: $(STAMP)/venv

# The browser phone's JsSIP bundle is vendored (ivr/portal/static, its checksum in
# vendor.json, checked by the tests): only rebuilding it needs Node (Debian 12's nodejs and
# npm are enough for esbuild).
WEBPHONE_PACKAGES := nodejs npm
webphone:
	@missing=$$(for p in $(WEBPHONE_PACKAGES); do command -v $${p/nodejs/node} >/dev/null || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
	bash webphone/build.sh

# Debian packages: installed only when one is missing; the package lists are refreshed first
# because a fresh machine's may be missing or old.
$(STAMP)/sysdeps: Makefile
	@mkdir -p $(STAMP)
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    $(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@# Debian's kamailio package enables a system service on port 5060: each cluster runs its own.
	@if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now kamailio >/dev/null 2>&1 || true; fi
	@touch $@

$(STAMP)/venv: pyproject.toml
	@mkdir -p $(STAMP)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

clean:
	rm -rf $(VENV) var build *.egg-info
