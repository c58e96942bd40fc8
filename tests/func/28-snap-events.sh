#!/bin/bash
# Issue 12: every snapshot state change raises a device-mapper event on
# the origin (dmsetup wait returns, the event counter moves): taken,
# invalidated (the reason is in status), committed, aborted, dropped.
. "$(dirname "$0")/2lib.sh"

SZ=$((64 << 11))
t_wipe /dev/vda
dmsetup create l28 --table "0 $SZ linear /dev/vda 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove l28"
dmsetup create cs28 --table "0 $SZ cryptsnap /dev/mapper/l28 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs28"
t_cleanup_add "cs_msg cs28 snap_drop"
D=/dev/mapper/cs28

events() { dmsetup info -c --noheadings -o events cs28 | tr -d ' '; }

# expect_event "what" cmd...: the command raises an event, and a waiter
# started before it is woken (dmsetup wait <event_nr> returns).
expect_event() {
	local what=$1 before w; shift
	before=$(events)
	timeout 20 dmsetup wait cs28 "$before" >/dev/null 2>&1 &
	w=$!
	sleep 0.3
	"$@" >/dev/null 2>&1
	if wait $w && [ "$(events)" -gt "$before" ]; then
		t_ok "$what raises a dm event"
	else
		t_fail "$what raises no dm event (counter $before -> $(events))"
	fi
}

cs_touch $D 1
expect_event "snap_take" cs_msg cs28 snap_take /dev/vdd
expect_event "commit" cs_msg cs28 commit
expect_event "snap_drop" cs_msg cs28 snap_drop
cs_msg cs28 snap_take /dev/vdd
expect_event "abort" cs_msg cs28 abort
cs_msg cs28 snap_drop

# Invalidation, from interrupt context: a COW store that fails writes.
dmsetup create cow28 --table "0 2048 error" || t_fail "error COW"
t_cleanup_add "dmsetup remove cow28"
cs_msg cs28 snap_take /dev/mapper/cow28
expect_event "invalidation (COW write error)" cs_touch $D 7
t_check "status names the reason" test "$(cs_state cs28)" = invalid:cow_io_error
cs_msg cs28 snap_drop
t_cleanup
exit 0
