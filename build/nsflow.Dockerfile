# nsflow services and CLI in one FROM-scratch image: /usr/local/bin/{extractor,
# transformer,loader,nsflow,healthcheck}. No registry is needed to build it:
# the context is a directory of static binaries (CGO_ENABLED=0) prepared by
# `make images` (or by the container tests), plus the host's CA bundle so the
# services can reach https NetSuite and Adobe Experience Platform.
#
#   context/ extractor transformer loader nsflow healthcheck ca-certificates.crt
#            rootfs/data/ rootfs/tmp/   (empty; tmp mode 1777)
#
# Run a service by its entrypoint (compose: entrypoint:, Kubernetes: command:):
#   docker run --entrypoint /usr/local/bin/loader -e NATS_URL=... nsflow/nsflow:local
# or the CLI (the default entrypoint):
#   docker run --rm nsflow/nsflow:local provision --help
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="nsflow" \
      org.opencontainers.image.description="NetSuite calendar events through NATS JetStream: extractor, transformer, loader, nsflow CLI" \
      org.opencontainers.image.source="https://github.com/nsflow/nsflow" \
      org.opencontainers.image.version="${VERSION}"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# /data (the SQLite sink, `nsflow run`) and /tmp, owned by the runtime user so
# a fresh named volume mounted there is writable.
COPY --chown=65532:65532 rootfs/ /
COPY extractor transformer loader nsflow healthcheck /usr/local/bin/
ENV PATH=/usr/local/bin \
    TMPDIR=/tmp \
    HOME=/tmp
USER 65532:65532
WORKDIR /data
# ops: /healthz /readyz /metrics
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/nsflow"]
CMD ["--help"]
