#!/bin/bash
# Issue 2: with ext4 mounted on an open LUKS2 mapping, swap the mapping's
# backing device to the cryptsnap target (reload + suspend/resume) and
# back while a writer runs.  No I/O error; fsck clean afterwards.
. "$(dirname "$0")/lib.sh"

DEV=/dev/vdb
KEY=/tmp/11.key
printf 'live insertion' >"$KEY"
t_wipe "$DEV"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DEV" >/dev/null 2>&1
# The key must appear in the table for dmsetup to copy it; the tool
# itself gets the volume key through libcryptsetup instead.
t_check "open LUKS2 mapping" cryptsetup open --disable-keyring --key-file "$KEY" "$DEV" live11
t_cleanup_add "cryptsetup close live11"
t_check "mkfs.ext4" mkfs.ext4 -q -F /dev/mapper/live11
mkdir -p /mnt/11
t_check "mount" mount /dev/mapper/live11 /mnt/11
t_cleanup_add "umount /mnt/11"

writer() {
	local i=0
	while [ ! -e /tmp/11.stop ]; do
		dd if=/dev/urandom of=/mnt/11/f$((i % 40)) bs=64k count=8 conv=fsync status=none || { echo fail >/tmp/11.err; return; }
		i=$((i + 1))
	done
}
rm -f /tmp/11.stop /tmp/11.err
writer &
wpid=$!

sz=$(t_sectors "$DEV")
t_check "create cryptsnap over the live backing device" dmsetup create cs11 --table "0 $sz cryptsnap $DEV 128"
t_cleanup_add "dmsetup remove cs11"
dev_of() { dmsetup info -c --noheadings -o major,minor "$1" | tr -d ' '; }
orig_table=$(dmsetup table --showkeys live11)
bmaj=$(stat -L -c '%t' "$DEV") bmin=$(stat -L -c '%T' "$DEV")
orig_dev="$((16#$bmaj)):$((16#$bmin))"
cs_dev=$(dev_of cs11)
new_table=$(echo "$orig_table" | awk -v o="$orig_dev" -v n="$cs_dev" '{ for (i = 1; i <= NF; i++) if ($i == o) $i = n; print }')

swaps_ok=1
for round in 1 2 3; do
	sleep 1
	dmsetup reload live11 --table "$new_table" && dmsetup suspend live11 && dmsetup resume live11 || swaps_ok=0
	[ "$(dmsetup deps -o devno live11 | sed 's/.*(\(.*\))/\1/' | tr -d ' ' | tr ',' ':')" = "$cs_dev" ] || swaps_ok=0
	sleep 1
	dmsetup reload live11 --table "$orig_table" && dmsetup suspend live11 && dmsetup resume live11 || swaps_ok=0
done
[ $swaps_ok = 1 ] && t_ok "three live swaps to the target and back" || t_fail "live swaps"
# End stacked on the target, as the tool will leave it.
dmsetup reload live11 --table "$new_table" && dmsetup suspend live11 && dmsetup resume live11
sleep 1
touch /tmp/11.stop
wait $wpid
[ ! -e /tmp/11.err ] && t_ok "writer saw no I/O error" || t_fail "writer saw an I/O error"
t_check "umount" umount /mnt/11
t_check "fsck clean through the target" e2fsck -fn /dev/mapper/live11
dmsetup reload live11 --table "$orig_table" && dmsetup suspend live11 && dmsetup resume live11
t_check "fsck clean on plain dm-crypt again" e2fsck -fn /dev/mapper/live11
t_cleanup
rm -f /tmp/11.*
