#!/bin/bash
# The check-system lane's steps, run at each boot of the real Debian 12
# guest (scripts/system-run.sh) by cryptsnap-system-test.service from the
# disk labelled CSTEST, mounted on /srv/cstest (the tree is in src/).
# TAP goes to the second serial port; the host counts ok / not ok lines.
# State between boots lives on the root disk, in /var/lib/cstest.
#   boot 1: make install (DKMS), systemd-analyze verify, LUKS data disk
#           in crypttab + fstab, protect, policy apply, a timer-fired
#           backup and its prune, then `systemctl reboot`
#   boot 2: the clean reboot kept tracking: the next backup is
#           incremental; then the host kills QEMU (hard reset)
#   boot 3: tracking restarted with a reason, the next backup is a full
#           scan that says why; restore byte-exact; make uninstall leaves
#           nothing behind; poweroff
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0
SRC=/srv/cstest/src
ST=/var/lib/cstest
VAULT=/var/backups/vault
KEY=/root/data.key
DISK=/dev/vdb			# the LUKS data disk
RESTORE=/dev/vdc		# restore target, the same size
M=data
mkdir -p $ST

ok()   { echo "ok - system: $*"; }
nok()  { echo "not ok - system: $*"; }
diag() { echo "# $*"; }
skip() { echo "ok - system: $1 # SKIP $2"; }
check() {	# check "description" cmd args...
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		nok "$desc"
		printf '%s\n' "$out" | tail -n 25 | sed 's/^/#   /'
	fi
}
jget() { sed -n "s/.*\"$1\": *\"*\([^\",]*\).*/\1/p" "$2"; }

# backup_as MODE TAG: a backup from the command line that must be MODE.
backup_as() {
	local mode=$1 tag=$2 got
	cryptsnap backup $M --json >$ST/$tag.json 2>$ST/$tag.err
	got=$(jget mode $ST/$tag.json)
	if [ "$got" = "$mode" ]; then
		ok "$tag: backup is $mode${3:+ ($(jget reason $ST/$tag.json))}"
	else
		nok "$tag: backup is '$got', not $mode"
		sed 's/^/#   /' $ST/$tag.err $ST/$tag.json
	fi
}

# The files a cryptsnap install may touch, for the uninstall comparison.
snapshot() {
	find /usr/local /usr/src /etc /lib/modules /var/lib/dkms -xdev \
		\( -path /var/lib/dkms/mok.key -o -path /var/lib/dkms/mok.pub \) -prune -o \
		\( -type d -printf 'dir %p\n' \) -o -printf '%y %p\n' 2>/dev/null | sort
}

wait_unit() {	# wait_unit UNIT SECONDS: until it is inactive again
	local i
	for ((i = 0; i < $2; i++)); do
		case $(systemctl show -P ActiveState "$1") in
		inactive|failed) return 0 ;;
		esac
		sleep 1
	done
	return 1
}

change() {	# write TAG through the file system, to disk
	head -c 2M /dev/urandom >/mnt/data/"$1" && sync
}

boot1() {
	diag "boot 1: kernel $(uname -r)"
	check "PID 1 is systemd" bash -c 'readlink /proc/1/exe | grep -q systemd'
	snapshot >$ST/before.files
	cd $SRC || { nok "tree on the test disk"; return; }
	make install >$ST/install.log 2>&1 && ok "make install" ||
		{ nok "make install"; tail -n 30 $ST/install.log | sed 's/^/#   /'; }
	grep 'cryptsnap install' $ST/install.log | sed 's/^/# /'
	check "dkms built and installed the module for $(uname -r)" \
		bash -c "dkms status -m cryptsnap -k $(uname -r) | grep ': installed'"
	check "module file under /lib/modules/$(uname -r)" \
		bash -c "find /lib/modules/$(uname -r) -name 'dm-cryptsnap.ko*' | grep -q ."
	check "module loaded" bash -c 'grep -q "^dm_cryptsnap " /proc/modules'
	check "modules-load.d entry" test -f /usr/local/lib/modules-load.d/cryptsnap.conf
	check "systemd-analyze verify the units" systemd-analyze verify \
		cryptsnap-protect@$M.service cryptsnap-backup@$M.service cryptsnap-backup@$M.timer

	# The data disk, as an admin would set it up.
	head -c 64 /dev/urandom >$KEY && chmod 600 $KEY
	check "luksFormat $DISK" cryptsetup luksFormat --type luks2 --batch-mode \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file $KEY $DISK
	check "open $M" cryptsetup open --key-file $KEY $DISK $M
	# No lazy init: its background writes would race the byte-exact compare.
	check "mkfs" mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/mapper/$M
	check "vault init" cryptsnap vault init $VAULT
	check "protect $M" cryptsnap protect $M --vault $VAULT --key-file $KEY
	check "dm table has the target under $M" bash -c "dmsetup table cryptsnap-$M | grep -q cryptsnap"
	# From now on systemd owns the chain: crypttab opens the mapping on
	# the target, fstab mounts it, the protect unit carries tracking.
	echo "$M /dev/mapper/cryptsnap-$M $KEY luks" >>/etc/crypttab
	mkdir -p /mnt/data
	echo "/dev/mapper/$M /mnt/data ext4 defaults 0 2" >>/etc/fstab
	cat >>/etc/cryptsnap/cryptsnap.conf <<CONF

# check-system
[disk "$M"]
vault = $VAULT
schedule = daily 03:00
keep-last = 1
CONF
	check "config check" cryptsnap config check
	systemctl daemon-reload
	check "enable cryptsnap-protect@$M" systemctl enable cryptsnap-protect@$M.service
	check "start cryptsnap-protect@$M (target already there)" systemctl start cryptsnap-protect@$M.service
	check "systemd-cryptsetup@$M takes the open mapping" systemctl start systemd-cryptsetup@$M.service
	check "mount /mnt/data from fstab" systemctl start mnt-data.mount
	change one
	check "policy apply" cryptsnap policy apply
	check "timer enabled by policy apply" systemctl is-enabled cryptsnap-backup@$M.timer
	check "timer OnCalendar from the schedule" bash -c \
		"systemctl cat cryptsnap-backup@$M.timer | grep -q '^OnCalendar=.*03:00'"
	# Seen on the first run of this lane: the timer policy apply started
	# fired a run at once (daily + Persistent=true, no stamp yet).
	[ -n "$(systemctl show -P InvocationID cryptsnap-backup@$M.service)" ] &&
		diag "policy apply: starting the timer started a backup at once"

	# Two scheduled runs fired by the timer itself: a runtime drop-in
	# makes it elapse a second after it starts, without the random delay.
	# The second one prunes the first point (keep-last = 1).
	local run
	for run in 1 2; do
		mkdir -p /run/systemd/system/cryptsnap-backup@$M.timer.d
		printf '[Timer]\nOnActiveSec=1s\nRandomizedDelaySec=0\n' \
			>/run/systemd/system/cryptsnap-backup@$M.timer.d/now.conf
		systemctl daemon-reload
		local before i
		# A run already going (starting the timer can fire one: see
		# below) must end first, or the timer's trigger is a no-op.
		wait_unit cryptsnap-backup@$M.service 900
		before=$(systemctl show -P InvocationID cryptsnap-backup@$M.service)
		systemctl restart cryptsnap-backup@$M.timer
		for ((i = 0; i < 60; i++)); do
			[ "$(systemctl show -P InvocationID cryptsnap-backup@$M.service)" != "$before" ] && break
			sleep 1
		done
		check "timer run $run: the timer started cryptsnap-backup@$M.service" \
			test "$(systemctl show -P InvocationID cryptsnap-backup@$M.service)" != "$before"
		wait_unit cryptsnap-backup@$M.service 900
		check "timer run $run: it succeeded" \
			test "$(systemctl show -P Result cryptsnap-backup@$M.service)" = success
		journalctl -b -u cryptsnap-backup@$M.service -o cat >$ST/timer$run.log
		journalctl -b -t cryptsnap -o cat >$ST/timer$run.syslog
		check "timer run $run: the journal has the backup" grep -q "disk $M:" $ST/timer$run.log
		check "timer run $run: then its prune" grep -q "prune finished: disk=$M" $ST/timer$run.syslog
		rm -rf /run/systemd/system/cryptsnap-backup@$M.timer.d
		systemctl daemon-reload
		[ $run = 1 ] && change two
	done
	sed 's/^/# /' $ST/timer2.log
	local n
	n=$(cryptsnap points --vault $VAULT --disk $M 2>/dev/null | awk -v d=$M '$2 == d' | wc -l)
	[ "$n" = 1 ] && ok "prune kept 1 point (keep-last = 1)" || nok "prune kept $n points, not 1"
	change three
	echo 2 >$ST/phase
	sync
	diag "boot 1: systemctl reboot"
	systemctl --no-block reboot
}

boot2() {
	diag "boot 2 (after systemctl reboot)"
	journalctl -b -u cryptsnap-protect@$M.service -o cat >$ST/protect2.log
	sed 's/^/# /' $ST/protect2.log
	check "protect unit: tracking resumed" grep -q "tracking resumed" $ST/protect2.log
	check "crypttab opened $M on the target" bash -c \
		"cryptsetup status $M | grep -q 'device:.*/dev/mapper/cryptsnap-$M'"
	check "fstab mounted /mnt/data" mountpoint -q /mnt/data
	check "files from boot 1 are there" test -f /mnt/data/three
	cryptsnap status $M >$ST/status2 2>&1
	sed 's/^/# /' $ST/status2
	check "status: tracking continuous since the last point" grep -q "continuous since the last point" $ST/status2
	change four
	backup_as incremental reboot
	change five
	echo 3 >$ST/phase
	sync
	diag "boot 2: asking the host for a hard reset"
	echo "cryptsnap-system: reset"
	sleep 600
}

boot3() {
	diag "boot 3 (after the hard reset)"
	journalctl -b -u cryptsnap-protect@$M.service -o cat >$ST/protect3.log
	sed 's/^/# /' $ST/protect3.log
	check "protect unit: tracking restarted with a reason" grep -q "tracking restarted: ." $ST/protect3.log
	check "fstab mounted /mnt/data" mountpoint -q /mnt/data
	cryptsnap status $M >$ST/status3 2>&1
	sed 's/^/# /' $ST/status3
	check "status: not continuous, next backup is full" grep -q "NOT continuous.*next backup is full" $ST/status3
	change six
	# Quiesce the disk (the mapping stays open on the target) so the
	# point and the disk stay equal, back up, restore and compare.
	check "unmount /mnt/data" systemctl stop mnt-data.mount
	backup_as full reset why
	check "the full scan says why" grep -q "full scan: ." $ST/reset.err
	sed 's/^/# /' $ST/reset.err
	local p
	p=$(jget point $ST/reset.json)
	check "restore point ${p:-?} byte-exact" bash -c \
		"cryptsnap restore --point '$p' --to $RESTORE --force >/dev/null &&
		 blockdev --flushbufs $DISK $RESTORE &&
		 cmp -n \$(blockdev --getsize64 $DISK) $RESTORE $DISK"
	check "the restored disk opens with the key" cryptsetup open --readonly --key-file $KEY $RESTORE restored
	cryptsetup close restored 2>/dev/null

	# Take the disk out of cryptsnap's hands, then uninstall.
	check "stop the data mapping" systemctl stop systemd-cryptsetup@$M.service
	check "open it directly" cryptsetup open --key-file $KEY /dev/mapper/cryptsnap-$M $M
	check "unprotect" cryptsnap unprotect $M
	cryptsetup close $M
	systemctl disable cryptsnap-protect@$M.service >/dev/null 2>&1
	sed -i "\|^$M |d" /etc/crypttab
	sed -i "\|^/dev/mapper/$M |d" /etc/fstab
	cp $SRC/etc/cryptsnap.conf /etc/cryptsnap/cryptsnap.conf	# the shipped one, unchanged
	cd $SRC && make uninstall >$ST/uninstall.log 2>&1 && ok "make uninstall" ||
		{ nok "make uninstall"; tail -n 30 $ST/uninstall.log | sed 's/^/#   /'; }
	sed 's/^/# /' $ST/uninstall.log
	systemctl daemon-reload
	snapshot >$ST/after.files
	# Files and links must all be gone; directories install created
	# (shared ones under /usr/local) are listed, not counted.
	diff $ST/before.files $ST/after.files | grep '^>' >$ST/left.diff
	if ! grep -v '^> dir ' $ST/left.diff >/dev/null; then
		ok "make uninstall leaves no file behind"
	else
		nok "make uninstall leaves files behind"
		grep -v '^> dir ' $ST/left.diff | sed 's/^/#   /' | head -n 40
	fi
	grep '^> dir ' $ST/left.diff | sed 's/^> dir /# directory left: /' 
	check "dkms knows no cryptsnap" bash -c '[ -z "$(dkms status -m cryptsnap)" ]'
	# (cryptsnap-system-test.service is the lane's own hook, not installed.)
	systemctl list-unit-files --no-legend "cryptsnap*" | grep -v '^cryptsnap-system-test' >$ST/units.left
	if [ -s $ST/units.left ]; then
		nok "cryptsnap units left"
		sed 's/^/#   /' $ST/units.left
	else
		ok "no cryptsnap unit left"
	fi
}

phase=$(cat $ST/phase 2>/dev/null || echo 1)
case $phase in
1) boot1 ;;
2) boot2 ;;
3) boot3; echo "cryptsnap-system: done"; sync; systemctl --no-block poweroff ;;
*) nok "unknown phase $phase" ;;
esac
