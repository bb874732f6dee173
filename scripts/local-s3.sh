#!/usr/bin/env bash
# Sourced by scripts/demo.sh and bench/run.sh: start_local_s3 DIR BUCKET
# starts a single-node Garage (the pinned build `make servers` installs)
# with its data in DIR on free loopback ports, exports AWS_* for it, waits
# until the bucket answers, and sets LOCAL_S3_PID. The caller stops it.

start_local_s3() {
  local dir=$1 bucket=$2 garage rpc api
  garage=${S3PIPE_GARAGE:-$HOME/.cache/s3pipe/garage-2.5.0/bin/garage}
  [ -x "$garage" ] || { echo "Garage not found at $garage: run make servers" >&2; return 1; }
  port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  rpc=$(port)
  api=$(port)
  mkdir -p "$dir"
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "lmdb"
replication_factor = 1
compression_level = "none"
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$api"
root_domain = ".s3.localhost"
TOML
  export AWS_ACCESS_KEY_ID=GK31c2f218a2e44f485b94239e
  export AWS_SECRET_ACCESS_KEY=b892c0665f0ada8a4755dae98baa3b133590e11dae3bcc1f9d769d67f16c3835
  export AWS_ENDPOINT_URL=http://127.0.0.1:$api AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  GARAGE_DEFAULT_ACCESS_KEY=$AWS_ACCESS_KEY_ID GARAGE_DEFAULT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
    GARAGE_DEFAULT_BUCKET=$bucket "$garage" -c "$dir/garage.toml" server --single-node --default-bucket \
    > "$dir/log" 2>&1 &
  LOCAL_S3_PID=$!
  export LOCAL_S3_PID
  local _
  for _ in $(seq 1 150); do
    s3ls "s3://$bucket/" > /dev/null 2>&1 && return 0
    kill -0 "$LOCAL_S3_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "Garage did not start; its log:" >&2
  cat "$dir/log" >&2
  return 1
}
