# Helpers of the lock cases (50-59), sourced by them.

# hold_flock FILE: a process that holds flock(LOCK_EX) on FILE until
# killed; sets HOLDER to its pid.  One process, so killing it releases.
hold_flock() {
	local f=$1
	python3 -c 'import fcntl, os, sys, time
f = open(sys.argv[1], "r+")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[1] + ".held", "w").close()
time.sleep(120)' "$f" &
	HOLDER=$!
	for _ in $(seq 50); do [ -e "$f.held" ] && break; sleep 0.1; done
	rm -f "$f.held"
}
release_flock() { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; }

# disk_state NAME VAULT: the local state of a protected disk, as protect
# writes it, in $CRYPTSNAP_STATE_DIR (its devices do not exist here).
disk_state() {
	mkdir -p -m 0700 "$CRYPTSNAP_STATE_DIR" "$CRYPTSNAP_STATE_DIR/disks"
	(umask 077; cat >"$CRYPTSNAP_STATE_DIR/disks/$1.json" <<JSON
{ "name": "$1", "vault": "$2", "kek": "", "backing": "$WORK/no-such-device",
  "crypt": "$1-crypt", "origin": "cryptsnap-$1",
  "luks_uuid": "0b5c1a7e-3f2d-4c8b-9a6e-5d4f3e2a1b0c", "cow_dir": "$WORK",
  "pre_freeze": "", "post_thaw": "", "last_point": "", "last_uuid": "",
  "size": 8388608, "cow_size": 1048576, "last_counter": 0,
  "chunk_sectors": 128, "created": 1735689600 }
JSON
	)
}
