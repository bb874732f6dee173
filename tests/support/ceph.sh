#!/usr/bin/env bash
# A single-node Ceph cluster with radosgw on 127.0.0.1, for the tests
# (tests/support/s3.rs, Server::ceph): one mon, one mgr, one memstore OSD,
# no cephx, radosgw's beast frontend on PORT, a user with fixed keys.
#   ceph.sh DIR PORT MON_PORT ACCESS_KEY SECRET_KEY
# Runs in the foreground until TERM; every daemon dies with it.
set -euo pipefail
dir=$1 port=$2 mon_port=$3 access=$4 secret=$5
mkdir -p "$dir"/{run,log,mon,osd,mgr}
fsid=$(cat /proc/sys/kernel/random/uuid)
conf=$dir/ceph.conf
cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
paxos propose interval = 0.1
# The mon refuses to run when its disk has under 5% free (a shared CI
# disk often has): the cluster is in memory and lives for one test binary.
mon data avail crit = 0
mon data avail warn = 0
osd objectstore = memstore
memstore device bytes = 2147483648
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
mon data = $dir/mon
osd data = $dir/osd
mgr data = $dir/mgr
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
rgw frontends = beast endpoint=127.0.0.1:$port
rgw dns name = 127.0.0.1
public addr = 127.0.0.1
cluster addr = 127.0.0.1
CONF
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; exit 0' TERM INT
monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap"
ceph-mon -c "$conf" -i a -f & pids+=($!)
ceph -c "$conf" --connect-timeout 30 -s >/dev/null
ceph-mgr -c "$conf" -i x -f & pids+=($!)
id=$(ceph -c "$conf" osd create)
ceph-osd -c "$conf" -i "$id" --mkfs
ceph-osd -c "$conf" -i "$id" -f & pids+=($!)
radosgw -c "$conf" -n client.rgw -f & pids+=($!)
for _ in $(seq 300); do
  radosgw-admin -c "$conf" user create --uid test --display-name test \
    --access-key "$access" --secret-key "$secret" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "ceph: up on 127.0.0.1:$port" >&2
wait
