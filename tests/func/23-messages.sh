#!/bin/bash
# Issue 3: every message argument is checked: unknown verbs, wrong
# argument counts, bad numbers, out-of-range pages, wrong states and bad
# view tables fail cleanly and change nothing (the harness fails the run
# on any kernel warning).
. "$(dirname "$0")/2lib.sh"

SZ=$((64 << 11))
t_wipe /dev/vdb
dmsetup create l23 --table "0 $SZ linear /dev/vdb 0" || { t_fail "linear"; exit 1; }
t_cleanup_add "dmsetup remove l23"
dmsetup create cs23 --table "0 $SZ cryptsnap /dev/mapper/l23 128" || { t_fail "create"; exit 1; }
t_cleanup_add "dmsetup remove cs23"
t_cleanup_add "cs_msg cs23 snap_drop"
CHUNKS=$(cs_field cs23 1)
before=$(dmsetup status cs23)

r() { t_refuse "$1" cs_msg cs23 "${@:2}"; }
r "unknown verb" frobnicate
r "verb with trailing junk" commitx
r "snap_take without a device" snap_take
r "snap_take with two devices" snap_take /dev/vdd /dev/vdc
r "snap_take of a missing path" snap_take /dev/nonexistent
r "snap_take of a bad major:minor" snap_take 4095:1048576
r "snap_take of garbage" snap_take 'x:y'
r "snap_take with a COW chunk that is not a power of two" snap_take /dev/vdd 100
r "snap_take with a COW chunk of 0" snap_take /dev/vdd 0
r "snap_take with a COW chunk too large" snap_take /dev/vdd 32768
r "snap_take with a COW chunk that is no number" snap_take /dev/vdd 8k
r "snap_take with too many arguments" snap_take /dev/vdd 128 1
r "snap_take onto the backing device" snap_take /dev/mapper/l23
r "snap_take onto itself" snap_take /dev/mapper/cs23
r "snap_drop without a snapshot" snap_drop
r "commit without a snapshot" commit
r "abort without a snapshot" abort
r "changes without a snapshot" changes 0
r "commit with an argument" commit now
r "reset with an argument" reset all
t_check "nothing changed by refused messages" test "$(dmsetup status cs23)" = "$before"
t_refuse "a view without a snapshot is refused" \
	dmsetup create --readonly v23 --table "0 $SZ cryptsnap-view /dev/mapper/cs23"
t_refuse "a view of a non-cryptsnap device is refused" \
	dmsetup create --readonly v23 --table "0 $SZ cryptsnap-view /dev/mapper/l23"

cs_touch /dev/mapper/cs23 7
t_check "snap_take" cs_msg cs23 snap_take /dev/vdd
r "a second snapshot while one exists" snap_take /dev/vdc
r "reset while a snapshot exists" reset
r "changes without a start" changes
r "changes with a negative start" changes -1
r "changes with a non-number" changes abc
r "changes with hex" changes 0x10
r "changes past the last chunk" changes $((CHUNKS + 1))
r "changes with a huge start" changes 99999999999999999999999
r "changes with zero extents" changes 0 0
r "changes with too many extents" changes 0 4097
r "changes with too many arguments" changes 0 1 2
t_check "changes at the end is a valid empty page" test "$(cs_msg cs23 changes $CHUNKS)" = "$CHUNKS 0 -"
t_check "changes 0 1 still reads" test "$(cs_msg cs23 changes 0 1)" = "8 1 7:1"
t_refuse "a view of the wrong size is refused" \
	dmsetup create --readonly v23 --table "0 $((SZ - 8)) cryptsnap-view /dev/mapper/cs23"
t_refuse "a view with extra arguments is refused" \
	dmsetup create --readonly v23 --table "0 $SZ cryptsnap-view /dev/mapper/cs23 1"
t_check "a proper view" dmsetup create v23 --table "0 $SZ cryptsnap-view /dev/mapper/cs23"
t_cleanup_add "dmsetup remove v23"
t_refuse "writes to the view fail" \
	dd if=/dev/zero of=/dev/mapper/v23 bs=4k count=1 oflag=direct status=none
t_refuse "the origin cannot be removed while a view uses it" dmsetup remove cs23
t_check "commit" cs_msg cs23 commit
r "a second commit" commit
r "abort after commit" abort
r "changes after commit" changes 0
t_check "status still sane" test "$(cs_state cs23) $(cs_setstate cs23)" = "active committed"
t_check "remove view" dmsetup remove v23
t_check "snap_drop" cs_msg cs23 snap_drop
r "a second snap_drop" snap_drop
t_check "snapshot state none" test "$(cs_state cs23)" = none
t_cleanup
exit 0
