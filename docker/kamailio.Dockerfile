# Kamailio in front of the nodes: Debian's package on the node image (the project renders
# its config from the same cluster file the nodes read: `ivr cluster kamailio`).
FROM localhost/ivr-node:latest
USER root
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kamailio kamailio-websocket-modules \
 && rm -rf /var/lib/apt/lists/*
USER ivr
ENTRYPOINT ["ivr", "cluster", "kamailio"]
