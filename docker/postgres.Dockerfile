# PostgreSQL for the cluster, from Debian's package on the same local base (no registry is
# needed): the entrypoint creates the cluster's data folder, user and database on first start.
FROM debian:sid-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/ivr-db /run/postgresql \
 && chown postgres:postgres /var/lib/ivr-db /run/postgresql
COPY docker/postgres-entrypoint.sh /usr/local/bin/ivr-postgres
USER postgres
ENTRYPOINT ["/usr/local/bin/ivr-postgres"]
