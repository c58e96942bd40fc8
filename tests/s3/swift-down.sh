#!/bin/bash
# Stops the Swift that tests/s3/swift-up.sh DIR started (its pids only) and
# removes DIR.  Usage: swift-down.sh DIR [--keep]
set -uo pipefail
D=${1:?usage: swift-down.sh DIR [--keep]}
[ -d "$D/run" ] || exit 0
for f in "$D"/run/*.pid; do
	[ -e "$f" ] || continue
	kill -- "-$(cat "$f")" 2>/dev/null	# the group: the server and its workers
done
for _ in $(seq 1 50); do
	alive=0
	for f in "$D"/run/*.pid; do kill -0 -- "-$(cat "$f")" 2>/dev/null && alive=1; done
	[ $alive = 0 ] && break
	sleep 0.1
done
for f in "$D"/run/*.pid; do kill -9 -- "-$(cat "$f")" 2>/dev/null; done
[ "${2:-}" = --keep ] || rm -rf "$D"
exit 0
