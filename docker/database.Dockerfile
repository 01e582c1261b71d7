# One part of the cluster's PostgreSQL that fails over (pg_auto_failover: the monitor or a data
# node), on the engine's image (`ivr cluster database PART` runs it) with Debian's packages: the
# newest PostgreSQL major that Debian carries pg_auto_failover for, found by apt at build time.
# No registry is needed. The container starts as root and `ivr` runs pg_autoctl as postgres.
# openssl: pg_autoctl makes each part's self-signed TLS certificate with it.
FROM localhost/ivr-node:latest
USER root
RUN apt-get update \
 && major=$(apt-cache search --names-only '^postgresql-[0-9]+-auto-failover$' \
            | sed -n 's/^postgresql-\([0-9]*\)-auto-failover .*/\1/p' | sort -n | tail -n 1) \
 && test -n "$major" \
 && echo "pg_auto_failover for PostgreSQL $major" \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "postgresql-$major-auto-failover" pg-auto-failover-cli openssl \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT ["ivr", "cluster", "database"]
