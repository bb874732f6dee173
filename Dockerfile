# s3pipe's container image: the tools (one multicall binary, the seven
# commands as links to it), their man pages and completions, and the job's
# scripts, with scripts/entrypoint.sh as the entrypoint.
#
#   podman build -t s3pipe .          # or: docker build -t s3pipe .
#
# It runs as uid 10001, writes nothing but stdout and stderr (so
# readOnlyRootFilesystem: true works and the pod needs no scratch volume),
# and carries no database client or kubectl: extend it for those (docs/backup-job.md,
# "The container image"). `make image` builds the same runtime stage from
# a local release build (`--build-context build=DIR` replaces the build
# stage); that is what `make test` builds and runs (tests/image.rs).

ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# No .git in the context: the commit comes in as a build argument.
ARG S3PIPE_COMMIT=unknown
RUN S3PIPE_COMMIT=${S3PIPE_COMMIT} cargo build --release --locked --bin s3pipe --example gen_docs \
 && target/release/examples/gen_docs target/docs \
 && scripts/install.sh /out/usr/local target/release/s3pipe target/docs

FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG S3PIPE_COMMIT=unknown
# Where the sources live (`make image` passes the git remote, if any).
ARG SOURCE=
LABEL org.opencontainers.image.title="s3pipe" \
      org.opencontainers.image.description="Stream backups between a machine and S3 with Unix pipes: no scratch disk, bounded memory" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${S3PIPE_COMMIT}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}"
# ca-certificates for HTTPS endpoints; bash and coreutils are in the base.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --gid 10001 s3pipe \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin s3pipe
COPY --from=build /out/ /
USER 10001:10001
ENTRYPOINT ["/usr/local/share/s3pipe/scripts/entrypoint.sh"]
