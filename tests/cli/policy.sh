#!/bin/bash
# Host test of `cryptsnap policy apply` on a staging root (never the
# host's systemd: with --root other than / it only writes files): the
# units installed there by scripts/install.sh, a configuration with daily,
# weekly and manual disks; the timer links and drop-ins it writes; a second
# apply changing nothing; a changed configuration (stale timers removed,
# an admin's own drop-in kept); the crypttab warning; a bad schedule
# (exit 2, one line, nothing touched); and, in a private mount namespace
# with a systemctl stub, the systemctl calls an apply on the running
# system makes.  Prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CS=${CRYPTSNAP:-$TOP/userspace/cryptsnap}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - policy: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - policy: $*"; }
skip() { n=$((n + 1)); echo "ok $n - policy: $1 # SKIP $2"; }
is() { [ "$2" = "$3" ] && ok "$1" || { no "$1"; diff <(echo "$3") <(echo "$2") | sed 's/^/#   /'; }; }

R=$W/root
U=$R/etc/systemd/system
TPL=/usr/lib/systemd/system/cryptsnap-backup@.timer
unset CRYPTSNAP_CONFIG
export CRYPTSNAP_STATE_DIR=$W/state
conf() { mkdir -p "$R/etc/cryptsnap"; cat >"$R/etc/cryptsnap/cryptsnap.conf"; chmod 600 "$R/etc/cryptsnap/cryptsnap.conf"; }
apply() { "$CS" policy apply --root "$R" "$@" 2>"$W/err"; }
# "LINK disk -> target" and "disk: OnCalendar" of every timer under $U.
state() {
	local l d
	for l in "$U"/timers.target.wants/cryptsnap-backup@*.timer; do
		[ -L "$l" ] || continue
		d=${l##*@}
		echo "LINK ${d%.timer} -> $(readlink "$l")"
	done
	for d in "$U"/cryptsnap-backup@*.timer.d/cryptsnap-policy.conf; do
		[ -f "$d" ] || continue
		l=${d%.timer.d/*}
		echo "${l##*@}: $(grep '^OnCalendar=.' "$d")"
	done
}

# The same steps as `make install DESTDIR=... PREFIX=/usr`.
DESTDIR=$R PREFIX=/usr bash "$TOP/scripts/install.sh" install >/dev/null 2>&1 &&
	[ -f "$R$TPL" ] && ok "units installed into the staging root" || no "install.sh into $R failed"

out=$("$CS" policy apply --root "$R" 2>&1)
rc=$?
[ $rc = 0 ] && [ -z "$(state)" ] && ok "shipped configuration (all commented out): no timer, exit 0" ||
	no "shipped configuration: exit $rc, $out, $(state)"

conf <<'EOF'
[defaults]
schedule = daily 02:00

[disk "data"]

[disk "db"]
schedule = weekly thu,mon 01:30

[disk "scratch"]
schedule = manual
EOF
echo "# <name> <device> <key> <options>" >"$R/etc/crypttab"
echo "data UUID=0b2e4f4c-0000-4000-8000-000000000001 none luks,discard" >>"$R/etc/crypttab"
out=$(apply)
rc=$?
[ $rc = 0 ] && ok "apply exits 0" || no "apply: exit $rc: $out $(cat "$W/err")"
is "a timer per scheduled disk, none for the manual one" "$(state)" \
"LINK data -> $TPL
LINK db -> $TPL
data: OnCalendar=*-*-* 02:00:00
db: OnCalendar=Mon,Thu *-*-* 01:30:00"
d=$U/cryptsnap-backup@db.timer.d/cryptsnap-policy.conf
grep -qx 'OnCalendar=' "$d" && grep -qx 'Persistent=true' "$d" && grep -q '^RandomizedDelaySec=' "$d" &&
	ok "drop-in resets OnCalendar, sets Persistent and RandomizedDelaySec" || no "drop-in: $(cat "$d")"
[ "$(stat -c %a "$d")" = 644 ] && [ "$(stat -c %a "${d%/*}")" = 755 ] &&
	ok "drop-in 0644 in a 0755 directory" || no "modes $(stat -c %a "$d" "${d%/*}")"
S=$R/var/lib/systemd/timers
[ -f "$S/stamp-cryptsnap-backup@data.timer" ] && [ -f "$S/stamp-cryptsnap-backup@db.timer" ] &&
	[ ! -e "$S/stamp-cryptsnap-backup@scratch.timer" ] &&
	[ "$(stat -c %a "$S/stamp-cryptsnap-backup@db.timer")" = 644 ] &&
	ok "a Persistent= stamp per new timer (no catch-up run at the first start)" ||
	no "stamps: $(ls -l "$S" 2>&1)"
[[ $out == *"disk db: cryptsnap-backup@db.timer OnCalendar=Mon,Thu *-*-* 01:30:00 (written)"* ]] &&
	ok "says what it wrote" || no "output: $out"
is "one warning: db's mapping is not in crypttab" "$(cat "$W/err")" \
	"cryptsnap policy: warning: disk db: mapping db is not in $R/etc/crypttab, so nothing opens it at boot"

if command -v systemd-analyze >/dev/null; then
	bad=""
	for c in $(state | sed -n 's/^.*: OnCalendar=//p' | tr ' ' '_'); do
		systemd-analyze calendar "${c//_/ }" >/dev/null 2>&1 || bad="$bad ${c//_/ }"
	done
	[ -z "$bad" ] && ok "systemd-analyze calendar parses every OnCalendar" || no "systemd rejects:$bad"
	# The instance as systemd merges it (template, then the drop-in), next
	# to its service running the staged binary.
	mkdir -p "$W/v"
	cat "$R$TPL" "$d" >"$W/v/cryptsnap-backup@db.timer"
	sed "s|/usr/sbin/cryptsnap|$R/usr/sbin/cryptsnap|" "$R/usr/lib/systemd/system/cryptsnap-backup@.service" \
		>"$W/v/cryptsnap-backup@db.service"
	v=$(systemd-analyze verify --man=no "$W/v/cryptsnap-backup@db.timer" 2>&1)
	[ $? = 0 ] && [ -z "$v" ] && ok "systemd-analyze verify of the timer with its drop-in" ||
		no "systemd-analyze verify: $v"
else
	skip "systemd-analyze calendar" "no systemd-analyze"
	skip "systemd-analyze verify" "no systemd-analyze"
fi

touch -d '2020-01-02 03:04:05' "$S/stamp-cryptsnap-backup@data.timer"
before=$(cd "$U" && find . -printf '%p %T@\n' | sort)
out=$(apply)
after=$(cd "$U" && find . -printf '%p %T@\n' | sort)
[ $? = 0 ] && [ "$before" = "$after" ] && [[ $out == *"(unchanged)"* ]] && [[ $out != *"(written)"* ]] &&
	ok "a second apply changes nothing" || no "second apply: $out"
[ "$(stat -c %Y "$S/stamp-cryptsnap-backup@data.timer")" = "$(date -d '2020-01-02 03:04:05' +%s)" ] &&
	ok "systemd's own stamp (the last run) is kept" || no "stamp rewritten"

# The admin's own drop-ins stay: one for a disk that keeps its timer,
# one for a disk that loses it.
echo "[Timer]" >"$U/cryptsnap-backup@data.timer.d/override.conf"
echo "[Timer]" >"$U/cryptsnap-backup@db.timer.d/override.conf"
conf <<'EOF'
[defaults]
schedule = manual

[disk "data"]
schedule = weekly sat 03:00

[disk "new"]
schedule = daily 04:15
EOF
echo "new UUID=0b2e4f4c-0000-4000-8000-000000000002 none luks" >>"$R/etc/crypttab"
out=$(apply)
rc=$?
[ $rc = 0 ] && ok "apply after a change exits 0" || no "apply: exit $rc: $(cat "$W/err")"
is "timers follow the new configuration" "$(state)" \
"LINK data -> $TPL
LINK new -> $TPL
data: OnCalendar=Sat *-*-* 03:00:00
new: OnCalendar=*-*-* 04:15:00"
[[ $out == *"disk db: cryptsnap-backup@db.timer removed (no schedule)"* ]] &&
	[[ $out == *"disk data: "*"(written)"* ]] && ok "says what it removed and rewrote" || no "output: $out"
[ ! -e "$U/timers.target.wants/cryptsnap-backup@db.timer" ] &&
	[ ! -e "$U/cryptsnap-backup@db.timer.d/cryptsnap-policy.conf" ] &&
	[ ! -e "$S/stamp-cryptsnap-backup@db.timer" ] &&
	ok "the stale link, drop-in and stamp are gone" || no "stale db timer left"
[ -f "$U/cryptsnap-backup@db.timer.d/override.conf" ] && [ -f "$U/cryptsnap-backup@data.timer.d/override.conf" ] &&
	ok "the admin's own drop-ins stay" || no "an admin's drop-in was removed"
[ -s "$W/err" ] && no "warnings with every mapping in crypttab: $(cat "$W/err")" ||
	ok "no warning when every mapping is in crypttab"

# A disk whose link alone is left (a drop-in removed by hand) is stale too.
conf <<'EOF'
[disk "data"]
schedule = weekly sat 03:00
EOF
rm -r "$U/cryptsnap-backup@new.timer.d"
out=$(apply)
is "a link without its drop-in is removed" "$(state)" \
"LINK data -> $TPL
data: OnCalendar=Sat *-*-* 03:00:00"

conf <<'EOF'
[disk "data"]
schedule = daily 25:00
EOF
before=$(cd "$U" && find . -printf '%p %T@\n' | sort)
out=$(apply)
rc=$?
after=$(cd "$U" && find . -printf '%p %T@\n' | sort)
err=$(cat "$W/err")
[ $rc = 2 ] && [ "$(echo "$err" | wc -l)" = 1 ] &&
	[[ $err == "cryptsnap policy: $R/etc/cryptsnap/cryptsnap.conf:2: schedule = daily 25:00: "* ]] &&
	ok "bad schedule: exit 2, one line with file and line" || no "bad schedule: exit $rc: $err"
[ "$before" = "$after" ] && [ -z "$out" ] && ok "bad schedule: nothing changed" ||
	no "bad schedule changed the units: $out"

# --config and --unit-dir; an absent default configuration means no timers.
out=$("$CS" policy apply --root "$R" --unit-dir "$W/units" --config "$R/etc/cryptsnap/cryptsnap.conf" 2>&1)
[ $? = 2 ] && ok "--config names the file" || no "--config: $out"
printf '[disk "x"]\nschedule = daily 01:00\n' >"$W/x.conf"
chmod 600 "$W/x.conf"
out=$(apply --unit-dir "$W/units" --config "$W/x.conf")
[ $? = 0 ] && [ -f "$W/units/cryptsnap-backup@x.timer.d/cryptsnap-policy.conf" ] &&
	[ "$(readlink "$W/units/timers.target.wants/cryptsnap-backup@x.timer")" = "$TPL" ] &&
	ok "--unit-dir holds the links and drop-ins" || no "--unit-dir: $out $(cat "$W/err")"
rm "$R/etc/cryptsnap/cryptsnap.conf"
out=$(apply)
[ $? = 0 ] && [ -z "$(state)" ] && ok "no configuration file: every timer removed" ||
	no "absent config: $out $(state)"
out=$(CRYPTSNAP_CONFIG=$W/absent.conf "$CS" policy apply --root "$R" 2>&1)
[ $? = 3 ] && [ "$(echo "$out" | wc -l)" = 1 ] && ok "a named configuration that is absent: exit 3" ||
	no "absent named config: $out"

out=$("$CS" policy apply --root "$W/empty" --config "$W/x.conf" 2>&1)
[ $? = 3 ] && [[ $out == *"cryptsnap-backup@.timer is not installed"* ]] &&
	[ "$(echo "$out" | wc -l)" = 1 ] && ok "no template installed: exit 3, one line" || no "no template: $out"
"$CS" policy apply --root "$R" extra >/dev/null 2>&1
[ $? = 2 ] && ok "an extra argument: exit 2" || no "extra argument accepted"
"$CS" policy frobnicate >/dev/null 2>&1
[ $? = 2 ] && ok "unknown policy subcommand: exit 2" || no "unknown subcommand accepted"
"$CS" policy --help | grep -q 'policy apply' && ok "--help" || no "--help"

# The running system (root /), in a private mount namespace: scratch
# /etc/systemd/system, /usr/local and /run/systemd/system (so it looks
# booted with systemd), and a systemctl stub that logs: which systemctl
# calls follow each apply.  The host is never touched; needs root.
live_mode() {
	local L=$W/live
	mkdir -p "$L/units" "$L/usrlocal/lib/systemd/system" "$L/run-systemd/system" "$L/bin"
	cp "$R$TPL" "$L/usrlocal/lib/systemd/system/"
	printf '#!/bin/bash\necho "systemctl $*" >>"%s"\n' "$L/log" >"$L/bin/systemctl"
	chmod +x "$L/bin/systemctl"
	printf '[disk "a"]\nschedule = daily 01:00\n[disk "b"]\nschedule = daily 02:00\n' >"$L/1.conf"
	printf '[disk "a"]\nschedule = daily 01:00\n[disk "c"]\nschedule = weekly sun 03:00\n' >"$L/2.conf"
	chmod 600 "$L"/*.conf
	install -m 600 /dev/null "$L/cur.conf"
	# shellcheck disable=SC2016
	CS=$CS L=$L PATH=$L/bin:$PATH unshare -m bash -c '
		mount --make-rprivate / &&
		mount --bind "$L/units" /etc/systemd/system &&
		mount --bind "$L/usrlocal" /usr/local &&
		mount --bind "$L/run-systemd" /run/systemd &&
		{ mount -t tmpfs tmpfs /var/lib/systemd 2>/dev/null ||
		  mount -t tmpfs tmpfs /var/lib; } || exit 99
		for c in 1 2; do
			echo "apply $c" >>"$L/log"
			cp "$L/$c.conf" "$L/cur.conf"
			"$CS" policy apply --config "$L/cur.conf" >/dev/null 2>>"$L/err"
			echo "rc=$?" >>"$L/log"
		done
		readlink /etc/systemd/system/timers.target.wants/* >>"$L/log"
		ls /var/lib/systemd/timers >>"$L/log"
	'
}
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	live_mode
	is "running system: stamps, daemon-reload, then restart what changed, start the rest, stop the removed" \
		"$(cat "$W/live/log")" \
"apply 1
systemctl daemon-reload
systemctl restart cryptsnap-backup@a.timer
systemctl restart cryptsnap-backup@b.timer
rc=0
apply 2
systemctl stop cryptsnap-backup@b.timer
systemctl daemon-reload
systemctl start cryptsnap-backup@a.timer
systemctl restart cryptsnap-backup@c.timer
rc=0
/usr/local/lib/systemd/system/cryptsnap-backup@.timer
/usr/local/lib/systemd/system/cryptsnap-backup@.timer
stamp-cryptsnap-backup@a.timer
stamp-cryptsnap-backup@c.timer"
else
	skip "running system with a systemctl stub" "needs root and unshare -m"
fi

echo "1..$n"
exit $failed
