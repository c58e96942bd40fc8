#!/bin/bash
# Issue 2: malformed tables are refused with a clear message in the
# kernel log (ti->error), and no kernel warning (the harness checks).
. "$(dirname "$0")/lib.sh"

DEV=/dev/vdd
sz=$(t_sectors "$DEV")

# refused "desc" "expected message" table...
refused() {
	local desc=$1 msg=$2 table=$3
	dmesg -C
	if dmsetup create cs12 --table "$table" >/dev/null 2>&1; then
		t_fail "$desc: table was accepted"
		dmsetup remove cs12
		return
	fi
	if dmesg | grep -q "cryptsnap: $msg"; then
		t_ok "$desc: refused with '$msg'"
	else
		t_fail "$desc: no clear message; kernel said: $(dmesg | tail -n 2 | tr '\n' ' ')"
	fi
	dmsetup remove cs12 >/dev/null 2>&1 || true
}

refused "no arguments" "Expected" "0 $sz cryptsnap"
refused "missing chunk size" "Expected" "0 $sz cryptsnap $DEV"
refused "missing device" "Backing device lookup failed" "0 $sz cryptsnap /dev/nonexistent 128"
refused "chunk size 0" "Chunk size must be a non-zero power of two" "0 $sz cryptsnap $DEV 0"
refused "chunk size not a power of two" "Chunk size must be a non-zero power of two" "0 $sz cryptsnap $DEV 100"
refused "chunk size garbage" "Invalid chunk size" "0 $sz cryptsnap $DEV 12abc"
refused "chunk size negative" "Invalid chunk size" "0 $sz cryptsnap $DEV -128"
refused "chunk size below 4 KiB" "Chunk size out of range" "0 $sz cryptsnap $DEV 4"
refused "chunk size above 8 MiB" "Chunk size out of range" "0 $sz cryptsnap $DEV 32768"
refused "chunk size overflows" "Invalid chunk size" "0 $sz cryptsnap $DEV 4294967296"
refused "unknown feature" "Unknown feature argument" "0 $sz cryptsnap $DEV 128 1 frobnicate"
refused "feature count mismatch" "Invalid number of feature arguments" "0 $sz cryptsnap $DEV 128 3 a"
refused "feature count garbage" "Invalid number of feature arguments" "0 $sz cryptsnap $DEV 128 x"
refused "too many features" "Invalid number of feature arguments" "0 $sz cryptsnap $DEV 128 100"
refused "target shorter than device" "Target must map the whole backing device" "0 $((sz - 8)) cryptsnap $DEV 128"

# A chunk bigger than a small device: put an 8 KiB linear device in front.
dmsetup create tiny12 --table "0 16 linear $DEV 0"
t_cleanup_add "dmsetup remove tiny12"
refused "chunk bigger than device" "Chunk size larger than the backing device" "0 16 cryptsnap /dev/mapper/tiny12 32"

t_check "a good table still loads" dmsetup create cs12 --table "0 $sz cryptsnap $DEV 128"
t_check "status reports chunk size and chunks" bash -c "dmsetup status cs12 | grep -q ' cryptsnap 128 $(( (sz + 127) / 128 ))'"
t_check "table shows device and chunk size" bash -c "dmsetup table cs12 | grep -Eq ' cryptsnap [0-9]+:[0-9]+ 128'"
dmsetup remove cs12
t_cleanup
