# nats-server (the version pinned in go.mod) in a FROM-scratch image, for
# machines that reach no registry. Anywhere else the official image
# (nats:2.11 or later, e.g. nats:2.11-alpine) does the same job with the same
# configuration files: see deployments/README.md.
#
#   context/ nats-server healthcheck ca-certificates.crt rootfs/data/ rootfs/tmp/
#
# Configuration is mounted at /etc/nats (deployments/compose/nats/*.conf);
# JetStream stores under /data (mount a volume there).
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="nsflow-nats" \
      org.opencontainers.image.description="nats-server with JetStream, built from source for nsflow" \
      org.opencontainers.image.source="https://github.com/nsflow/nsflow" \
      org.opencontainers.image.version="${VERSION}"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chown=65532:65532 rootfs/ /
COPY nats-server healthcheck /usr/local/bin/
ENV PATH=/usr/local/bin TMPDIR=/tmp
USER 65532:65532
# client, cluster routes, monitoring (/healthz /varz /jsz)
EXPOSE 4222 6222 8222
ENTRYPOINT ["/usr/local/bin/nats-server"]
CMD ["--jetstream", "--store_dir", "/data", "--http_port", "8222"]
