#!/bin/sh
# First start: a data folder, the role and database `ivr` (its password from IVR_DB_PASSWORD;
# without one, loopback connections are trusted). Then PostgreSQL in the foreground.
set -eu
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=/var/lib/ivr-db/data
port=${IVR_DB_PORT:-5432}
listen=${IVR_DB_LISTEN:-127.0.0.1}
if [ ! -s "$data/PG_VERSION" ]; then
    method=trust
    if [ -n "${IVR_DB_PASSWORD:-}" ]; then method=scram-sha-256; fi
    "$bin/initdb" -D "$data" -U postgres -A "$method" --auth-local=trust >/dev/null
    "$bin/pg_ctl" -D "$data" -o "-c listen_addresses='' -k /run/postgresql" -w start >/dev/null
    psql -h /run/postgresql -U postgres -v ON_ERROR_STOP=1 -q \
         -v pw="${IVR_DB_PASSWORD:-}" <<'SQL'
SELECT CASE WHEN :'pw' = '' THEN 'CREATE ROLE ivr LOGIN'
            ELSE format('CREATE ROLE ivr LOGIN PASSWORD %L', :'pw') END \gexec
CREATE DATABASE ivr OWNER ivr;
SQL
    "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
fi
exec "$bin/postgres" -D "$data" -c listen_addresses="$listen" -p "$port" -k /run/postgresql
