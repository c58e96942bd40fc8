#!/bin/bash
# Starts a private OpenStack Swift on loopback for the S3 tests: memcached,
# one proxy (s3api + tempauth), one account and one container server and
# three object servers, with 3-replica rings.  The object ring has two
# devices per object server (one zone each), six in all: like a real
# cluster it has more devices than replicas, so when a server is down the
# proxy writes its replica to a handoff device, and that object server
# sends the container update the dead one would have sent.  With only
# three devices there is no handoff: one container replica silently
# misses every object written while a server is down and, with no
# replicator running, container listings flip between stale and current.  Everything lives in DIR (created):
# configs, rings, devices, logs, pids.  Prints shell assignments to eval:
#   S3_DIR, AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, S3_BUCKET, SWIFT_OBJ_PORTS
# Stop with tests/s3/swift-down.sh DIR.  Usage: swift-up.sh DIR
set -euo pipefail
D=${1:?usage: swift-up.sh DIR}
mkdir -p "$D"
D=$(cd "$D" && pwd)
for b in swift-ring-builder swift-proxy-server swift-object-server memcached; do
	command -v "$b" >/dev/null || { echo "swift-up: $b missing (make deps)" >&2; exit 1; }
done

# Free loopback ports: proxy, account, container, 3 object servers, memcached.
read -r PP AP CP O1 O2 O3 MP < <(python3 - <<'PY'
import socket
ss = [socket.socket() for _ in range(7)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()
PY
)

mkdir -p "$D/log" "$D/run" "$D/ac/d1" "$D/ac/d2" "$D/ac/d3" \
	"$D/obj1/d1" "$D/obj2/d2" "$D/obj3/d3" "$D/obj1/d4" "$D/obj2/d5" "$D/obj3/d6"
cat >"$D/swift.conf" <<C
[swift-hash]
swift_hash_path_suffix = cryptsnap-test
swift_hash_path_prefix = cryptsnap-test
[storage-policy:0]
name = gold
default = yes
C
common() {	# common PORT DEVICES
	cat <<C
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
devices = $2
mount_check = false
swift_dir = $D
workers = 1
log_name = swift
log_facility = LOG_LOCAL0
log_address = /dev/null
user = $(id -un)
C
}
server_conf() {	# server_conf KIND PORT DEVICES
	{ common "$2" "$3"
	  printf '[pipeline:main]\npipeline = %s-server\n[app:%s-server]\nuse = egg:swift#%s\n' "$1" "$1" "$1"
	  printf '[%s-replicator]\n[%s-auditor]\n[%s-updater]\n' "$1" "$1" "$1"
	} >"$D/$4.conf"
}
server_conf account "$AP" "$D/ac" account
server_conf container "$CP" "$D/ac" container
server_conf object "$O1" "$D/obj1" object1
server_conf object "$O2" "$D/obj2" object2
server_conf object "$O3" "$D/obj3" object3
{ common "$PP" "$D/ac"
cat <<C
[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache s3api tempauth proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MP
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
C
} >"$D/proxy.conf"

cd "$D"
for r in account:"$AP":"$AP":"$AP":ac container:"$CP":"$CP":"$CP":ac object:"$O1":"$O2":"$O3":obj; do
	IFS=: read -r kind p1 p2 p3 _ <<<"$r"
	swift-ring-builder "$kind.builder" create 8 3 0 >/dev/null
	swift-ring-builder "$kind.builder" add r1z1-127.0.0.1:"$p1"/d1 100 >/dev/null
	swift-ring-builder "$kind.builder" add r1z2-127.0.0.1:"$p2"/d2 100 >/dev/null
	swift-ring-builder "$kind.builder" add r1z3-127.0.0.1:"$p3"/d3 100 >/dev/null
	if [ "$kind" = object ]; then	# handoffs (see the top)
		swift-ring-builder "$kind.builder" add r1z1-127.0.0.1:"$p1"/d4 100 >/dev/null
		swift-ring-builder "$kind.builder" add r1z2-127.0.0.1:"$p2"/d5 100 >/dev/null
		swift-ring-builder "$kind.builder" add r1z3-127.0.0.1:"$p3"/d6 100 >/dev/null
	fi
	swift-ring-builder "$kind.builder" rebalance >/dev/null 2>&1 || true
done

# Each server in its own process group (setsid): a Swift server forks
# its workers, and killing only the parent leaves them serving.
# swift-down.sh and the tests kill the group, "kill -- -PID".
start() {	# start NAME COMMAND...
	local n=$1; shift
	setsid "$@" >"$D/log/$n.log" 2>&1 &
	echo $! >"$D/run/$n.pid"
}
start memcached memcached $( [ "$(id -u)" = 0 ] && echo -u nobody) -l 127.0.0.1 -p "$MP" -U 0 -m 64
start account swift-account-server "$D/account.conf"
start container swift-container-server "$D/container.conf"
start object1 swift-object-server "$D/object1.conf"
start object2 swift-object-server "$D/object2.conf"
start object3 swift-object-server "$D/object3.conf"
start proxy swift-proxy-server "$D/proxy.conf"
echo "$O1 $O2 $O3" >"$D/obj-ports"

# Ready when tempauth hands out a token; then the bucket.
ok=0
for _ in $(seq 1 100); do
	if curl -sf -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
		"http://127.0.0.1:$PP/auth/v1.0"; then ok=1; break; fi
	sleep 0.2
done
[ $ok = 1 ] || { echo "swift-up: proxy did not come up (logs in $D/log)" >&2; exit 1; }
tok=$(curl -sf -D - -o /dev/null -H 'X-Auth-User: test:tester' -H 'X-Auth-Key: testing' \
	"http://127.0.0.1:$PP/auth/v1.0" | tr -d '\r' | sed -n 's/^X-Auth-Token: //Ip')
# The account and container servers may still be starting: retry.
ok=0
for _ in $(seq 1 100); do
	if curl -sf -X PUT -H "X-Auth-Token: $tok" "http://127.0.0.1:$PP/v1/AUTH_test/vaults" >/dev/null; then
		ok=1; break
	fi
	sleep 0.2
done
[ $ok = 1 ] || { echo "swift-up: cannot create the bucket (logs in $D/log)" >&2; exit 1; }
cat >"$D/env" <<C
S3_DIR=$D
AWS_ENDPOINT_URL=http://127.0.0.1:$PP
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=test:tester
AWS_SECRET_ACCESS_KEY=testing
S3_BUCKET=vaults
SWIFT_OBJ_PORTS="$O1 $O2 $O3"
SWIFT_PROXY_PORT=$PP
C
cat "$D/env"
