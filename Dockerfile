# syntax=docker/dockerfile:1
# tagflow's binaries (dataflow, api, simulator) in one small runtime image.
#
#   docker build -t tagflow:local .         # or: docker compose build
#
# Stage 1 compiles with the same Debian build packages scripts/install-deps
# installs (bindgen needs libclang, librdkafka and RocksDB need cmake and a
# C++ compiler). Cargo's registry and target directory are BuildKit cache
# mounts, so a rebuild after a code change does not recompile RocksDB.
# Stage 2 is debian:bookworm-slim with the shared libraries the binaries
# link (libstdc++, zlib), curl for health checks, and a non-root user.

FROM rust:1.95-bookworm AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libclang-dev clang cmake build-essential pkg-config \
      libssl-dev zlib1g-dev libsasl2-dev libcurl4-openssl-dev libzstd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p dataflow -p api -p simulator \
 && mkdir -p /out \
 && cp target/release/dataflow target/release/api target/release/simulator /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates curl libstdc++6 zlib1g libssl3 libsasl2-2 libzstd1 libcurl4 tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/tagflow --create-home tagflow \
 && mkdir -p /var/lib/tagflow/state /var/lib/tagflow/checkpoints \
 && chown -R tagflow:tagflow /var/lib/tagflow
COPY --from=builder /out/dataflow /out/api /out/simulator /usr/local/bin/
USER tagflow
WORKDIR /var/lib/tagflow
ENV TAGFLOW_STATE_DIR=/var/lib/tagflow/state \
    TAGFLOW_CHECKPOINT_DIR=/var/lib/tagflow/checkpoints
# tini forwards SIGTERM to the binary, which shuts down gracefully.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["dataflow", "run", "--help"]
