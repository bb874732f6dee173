#!/usr/bin/env bash
# Sourced by bench/run.sh: start_garage_cluster DIR BUCKET starts a 3-node
# Garage cluster (replication factor 3, one zone per node, the layout
# applied with the garage CLI, as tests/support/cluster.rs does), exports
# AWS_* for node 0's S3 API, and sets CLUSTER_PIDS. The caller stops it.

start_garage_cluster() {
  local dir=$1 bucket=$2 garage secret i rpc api ids=() rpcs=()
  garage=${S3PIPE_GARAGE:-$HOME/.cache/s3pipe/garage-2.5.0/bin/garage}
  port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  CLUSTER_PIDS=()
  for i in 0 1 2; do
    rpc=$(port); api=$(port); rpcs+=("$rpc")
    mkdir -p "$dir/node$i"
    cat > "$dir/node$i.toml" <<TOML
metadata_dir = "$dir/node$i/meta"
data_dir = "$dir/node$i/data"
db_engine = "lmdb"
replication_factor = 3
compression_level = "none"
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$secret"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$api"
root_domain = ".s3.localhost"
TOML
    [ "$i" = 0 ] && export AWS_ENDPOINT_URL=http://127.0.0.1:$api
    "$garage" -c "$dir/node$i.toml" server > "$dir/node$i.log" 2>&1 &
    CLUSTER_PIDS+=($!)
  done
  g() { local n=$1; shift; "$garage" -c "$dir/node$n.toml" "$@"; }
  # until N ARGS…: the CLI against node N, retried while the node starts.
  until_ok() { local _; for _ in $(seq 1 300); do g "$@" 2>/dev/null && return 0; sleep 0.2; done; g "$@"; }
  for i in 0 1 2; do ids+=("$(until_ok "$i" node id -q | cut -d@ -f1)"); done
  for i in 1 2; do until_ok 0 node connect "${ids[$i]}@127.0.0.1:${rpcs[$i]}" > /dev/null; done
  for i in 0 1 2; do g 0 layout assign -z "zone$i" -c 1G "${ids[$i]:0:16}" > /dev/null; done
  g 0 layout apply --version 1 > /dev/null
  export AWS_ACCESS_KEY_ID=GK31c2f218a2e44f485b94239e
  export AWS_SECRET_ACCESS_KEY=b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  until_ok 0 key import --yes "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" > /dev/null
  until_ok 0 bucket create "$bucket" > /dev/null
  g 0 bucket allow --read --write --owner "$bucket" --key "$AWS_ACCESS_KEY_ID" > /dev/null
  for _ in $(seq 1 300); do s3ls "s3://$bucket/" > /dev/null 2>&1 && return 0; sleep 0.2; done
  echo "the Garage cluster did not start; node 0's log:" >&2
  cat "$dir/node0.log" >&2
  return 1
}
