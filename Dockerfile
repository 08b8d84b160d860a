# syntax=docker/dockerfile:1
#
# handshake_exporter container image.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t handshake_exporter .
#   docker run --rm --network host handshake_exporter
#
# REVISION is the commit the image is built from: the build context holds no .git, so without it
# the exporter reports revision="unknown" in handshake_exporter_build_info and the image's OCI
# label org.opencontainers.image.revision is "unknown" too.
#
# The image runs as an unprivileged user (65532, "nonroot"), needs no capabilities and no
# writable file system, and listens on port 19115. Its configuration lives at
# /etc/handshake_exporter/config.yml (a copy of deploy/handshake_exporter/config.yml); mount your
# own file there to replace it. Probing from the host's network (--network host) reports on the
# host's own routes and firewall rather than on a container bridge.

# ---- build: a static-enough release binary, dependencies cached between builds
FROM rust:1-bookworm AS builder
ARG REVISION=unknown
WORKDIR /src
# libssl-dev and pkg-config: the OpenSSL the `legacy-tls` feature links (TLS 1.0/1.1 modules).
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    HANDSHAKE_EXPORTER_REVISION="${REVISION}" \
    cargo build --release --locked --bin handshake_exporter \
    && install -D -m 0755 target/release/handshake_exporter /out/handshake_exporter \
    && strip /out/handshake_exporter

# ---- run: glibc, libgcc, libssl3 and CA certificates only (no shell, no package manager)
FROM gcr.io/distroless/cc-debian12:nonroot
ARG REVISION=unknown
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="handshake_exporter" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.description="Prometheus exporter whose TCP/TLS probes name the phase and class of every failure" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/handshake_exporter /usr/local/bin/handshake_exporter
COPY deploy/handshake_exporter/config.yml /etc/handshake_exporter/config.yml
USER 65532:65532
EXPOSE 19115
# No HEALTHCHECK: the image has no shell or HTTP client; Prometheus watches the exporter through
# `up{job="handshake_exporter"}` (alert HandshakeExporterDown).
ENTRYPOINT ["/usr/local/bin/handshake_exporter"]
CMD ["--config.file=/etc/handshake_exporter/config.yml"]
