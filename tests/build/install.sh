#!/bin/bash
# Host test of `make install` / `make uninstall` (scripts/install.sh) into
# a staging root: the file list and modes, the units (placeholders filled,
# `systemd-analyze verify` when the host has it), the admin's config kept,
# and uninstall leaving nothing behind.  With DESTDIR set the dkms and
# systemctl steps are skipped by design, so this test never registers a
# module or touches the host's systemd; the VM test of issue 14 covers
# those.  Prints TAP.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
F=$(mktemp -d)
trap 'rm -rf "$F"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - install: $*"; }
no() { n=$((n + 1)); failed=1; echo "not ok $n - install: $*"; }
is() { [ "$2" = "$3" ] && ok "$1" || { no "$1"; diff <(echo "$3") <(echo "$2") | sed 's/^/#   /'; }; }
M() { make -s --no-print-directory -C "$TOP" "$@" 2>&1; }
# The script itself, what the make targets run: repeats skip make tool's
# include-layer check.
S() { local a=$1; shift; env "$@" bash "$TOP/scripts/install.sh" "$a" 2>&1; }

VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$TOP/dkms.conf")
[ -x "$TOP/userspace/cryptsnap" ] || M tool >/dev/null

# What install must put, mode and path, relative to DESTDIR (PREFIX=/usr).
expected() {
	local f
	echo "644 /etc/cryptsnap/cryptsnap.conf"
	echo "644 /usr/lib/modules-load.d/cryptsnap.conf"
	echo "644 /usr/lib/systemd/system/cryptsnap-backup@.service"
	echo "644 /usr/lib/systemd/system/cryptsnap-backup@.timer"
	echo "644 /usr/lib/systemd/system/cryptsnap-protect@.service"
	echo "755 /usr/sbin/cryptsnap"
	echo "644 /usr/share/bash-completion/completions/cryptsnap"
	echo "644 /usr/share/man/man8/cryptsnap.8"
	for f in $(cd "$TOP" && git ls-files Kbuild dkms.conf 'kmod/*.[ch]' 'include/*.h'); do
		echo "644 /usr/src/cryptsnap-$VER/$f"
	done
}
listing() { (cd "$1" && find . -type f -printf '%m /%P\n' -o -type l -printf 'LINK /%P\n') | sort -k2; }

D=$F/root
out=$(M install DESTDIR="$D" PREFIX=/usr)
[ $? = 0 ] && ok "make install DESTDIR PREFIX=/usr" || no "make install failed: $out"
[[ $out == *"dkms and systemctl steps skipped"* ]] && ok "says the dkms steps are skipped with DESTDIR" ||
	no "no word about skipping dkms: $out"
is "file list and modes" "$(listing "$D")" "$(expected | sort -k2)"
bad=$(find "$D" -type d ! -perm 755)
[ -z "$bad" ] && ok "directories are 0755" || no "directories not 0755: $bad"
grep -q '^AUTOINSTALL="yes"' "$D/usr/src/cryptsnap-$VER/dkms.conf" &&
	ok "dkms.conf has AUTOINSTALL=yes (new kernels rebuild it)" || no "dkms.conf lacks AUTOINSTALL=yes"
missing=""
for o in $(sed -n 's/\\$//; s/^.*-y :=//p; s/^\t\t *//p' "$TOP/Kbuild" | tr ' \t' '\n' | grep '\.o$'); do
	[ -f "$D/usr/src/cryptsnap-$VER/${o%.o}.c" ] || missing="$missing $o"
done
[ -z "$missing" ] && ok "module source has every object Kbuild builds" || no "module source lacks:$missing"

U=$D/usr/lib/systemd/system
grep -q '@[A-Z]*@' "$U"/cryptsnap-backup@.* "$U"/cryptsnap-protect@.service && no "placeholders left in the units" ||
	ok "unit placeholders filled"
grep -qx 'ExecStart=/usr/sbin/cryptsnap backup %i' "$U/cryptsnap-backup@.service" &&
	grep -qx 'ExecStart=/usr/sbin/cryptsnap prune --disk %i' "$U/cryptsnap-backup@.service" &&
	ok "service runs \$PREFIX/sbin/cryptsnap backup, then prune of the disk" ||
	no "service paths wrong: $(grep -E '^(Exec|Env)' "$U/cryptsnap-backup@.service")"
grep -qx 'ExecStart=/usr/sbin/cryptsnap boot %i' "$U/cryptsnap-protect@.service" &&
	grep -qx 'ExecStop=/usr/sbin/cryptsnap shutdown %i' "$U/cryptsnap-protect@.service" &&
	grep -q '^Before=cryptsetup-pre.target' "$U/cryptsnap-protect@.service" &&
	ok "protect unit: boot before cryptsetup-pre.target, shutdown at stop" ||
	no "protect unit wrong: $(grep -E '^(Exec|Before)' "$U/cryptsnap-protect@.service")"
if command -v systemd-analyze >/dev/null; then
	# Verify an instance; the binary is the staged one (not installed on the host).
	mkdir -p "$F/units"
	sed "s|/usr/sbin/cryptsnap|$D/usr/sbin/cryptsnap|" "$U/cryptsnap-backup@.service" \
		>"$F/units/cryptsnap-backup@data.service"
	cp "$U/cryptsnap-backup@.timer" "$F/units/cryptsnap-backup@data.timer"
	sed "s|/usr/sbin/cryptsnap|$D/usr/sbin/cryptsnap|" "$U/cryptsnap-protect@.service" \
		>"$F/units/cryptsnap-protect@data.service"
	v=$(systemd-analyze verify --man=no "$F/units/cryptsnap-backup@data.service" \
		"$F/units/cryptsnap-backup@data.timer" "$F/units/cryptsnap-protect@data.service" 2>&1)
	[ $? = 0 ] && [ -z "$v" ] && ok "systemd-analyze verify: units clean" ||
		no "systemd-analyze verify: $v"
else
	n=$((n + 1)); echo "ok $n - install: systemd-analyze verify # SKIP no systemd-analyze"
fi

# The admin's config: never overwritten, never removed; the default is.
echo "# mine" >>"$D/etc/cryptsnap/cryptsnap.conf"
cp "$D/etc/cryptsnap/cryptsnap.conf" "$F/mine.conf"
: >"$D/usr/src/cryptsnap-$VER/kmod/stale.c"
out=$(S install DESTDIR="$D" PREFIX=/usr)
cmp -s "$D/etc/cryptsnap/cryptsnap.conf" "$F/mine.conf" && [[ $out == *"kept /etc/cryptsnap/cryptsnap.conf"* ]] &&
	ok "reinstall keeps a changed config and says so" || no "reinstall touched the admin's config: $out"
[ -e "$D/usr/src/cryptsnap-$VER/kmod/stale.c" ] && no "reinstall merged old module source" ||
	ok "reinstall replaces the module source"
out=$(M uninstall DESTDIR="$D" PREFIX=/usr)
[ $? = 0 ] && ok "make uninstall" || no "make uninstall failed: $out"
is "uninstall leaves only the changed config" "$(listing "$D")" "644 /etc/cryptsnap/cryptsnap.conf"
rm "$D/etc/cryptsnap/cryptsnap.conf"

S install DESTDIR="$D" PREFIX=/usr >/dev/null
# A drop-in `cryptsnap policy apply` wrote (userspace/sys/units.c) goes too.
mkdir -p "$D/etc/systemd/system/cryptsnap-backup@data.timer.d"
echo '[Timer]' >"$D/etc/systemd/system/cryptsnap-backup@data.timer.d/cryptsnap-policy.conf"
S uninstall DESTDIR="$D" PREFIX=/usr >/dev/null
is "install + uninstall leaves no file behind (nor policy apply's drop-in)" "$(listing "$D")" ""
[ ! -e "$D/etc/systemd/system/cryptsnap-backup@data.timer.d" ] &&
	ok "policy drop-in directory removed" || no "policy drop-in directory left"
[ ! -e "$D/usr/src/cryptsnap-$VER" ] && [ ! -e "$D/etc/cryptsnap" ] &&
	ok "our directories are gone" || no "left: $(find "$D" -name 'cryptsnap*')"

# Default PREFIX: /usr/local; the config stays in /etc.
L=$F/local
M install DESTDIR="$L" >/dev/null
[ -x "$L/usr/local/sbin/cryptsnap" ] && [ -f "$L/usr/local/lib/systemd/system/cryptsnap-backup@.timer" ] &&
	[ -f "$L/etc/cryptsnap/cryptsnap.conf" ] && [ -d "$L/usr/src/cryptsnap-$VER" ] &&
	grep -q 'ExecStart=/usr/local/sbin/cryptsnap backup' "$L/usr/local/lib/systemd/system/cryptsnap-backup@.service" &&
	ok "default PREFIX is /usr/local, config in /etc, source in /usr/src" || no "default PREFIX layout: $(listing "$L" | head)"
M uninstall DESTDIR="$L" >/dev/null
is "default PREFIX: uninstall leaves no file" "$(listing "$L")" ""
# The real install (DESTDIR empty) with dkms, modprobe and systemctl
# replaced by stubs that log, in a private mount namespace whose /usr/src,
# /usr/local and /run/systemd are scratch directories: which dkms and
# systemd steps run, in which order, and what uninstall undoes.  The host
# is never touched; needs root for unshare -m.
real_mode() {
	local R=$F/real S=$F/real/stubs
	mkdir -p "$R/usrsrc" "$R/usrlocal" "$R/run-systemd/system" "$R/etc" "$S"
	cat >"$S/dkms" <<'EOF'
#!/bin/bash
echo "dkms $*" >>"$STUB_LOG"
m=$STUB_DIR/dkms-added		# one registered version a line
touch "$m"
case $1 in
status)
	if [ "${4:-}" = -v ]; then grep -x "$5" "$m" | sed 's|^|cryptsnap/|; s|$|: added|'
	else sed 's|^|cryptsnap/|; s|$|, 6.1.0-57-amd64, x86_64: installed|' "$m"; fi
	exit 0 ;;
add) echo "$5" >>"$m" ;;
remove) grep -vx "$5" "$m" >"$m.new"; mv "$m.new" "$m" ;;
build) exit "${STUB_BUILD_RC:-0}" ;;
esac
exit 0
EOF
	for c in modprobe systemctl; do
		printf '#!/bin/bash\necho "%s $*" >>"$STUB_LOG"\n' "$c" >"$S/$c"
	done
	printf '#!/bin/bash\nexit 0\n' >"$S/lsmod"
	chmod +x "$S"/*
	echo 0.9.0 >"$R/dkms-added"	# an older version, registered before
	# shellcheck disable=SC2016
	STUB_LOG=$R/log STUB_DIR=$R PATH=$S:$PATH SYSCONFDIR=$R/etc TOP=$TOP R=$R \
	unshare -m bash -c '
		mount --make-rprivate / &&
		mount --bind "$R/usrsrc" /usr/src && mount --bind "$R/usrlocal" /usr/local &&
		mount --bind "$R/run-systemd" /run/systemd || exit 99
		M() { make -s --no-print-directory -C "$TOP" "$@" >>"$R/out" 2>&1; echo "make $1 rc=$?" >>"$STUB_LOG"; }
		S() { bash "$TOP/scripts/install.sh" "$1" >>"$R/out" 2>&1; echo "install.sh $1 rc=$?" >>"$STUB_LOG"; }
		M install
		ls /usr/local/sbin/cryptsnap /usr/src/cryptsnap-*/dkms.conf "$SYSCONFDIR/cryptsnap/cryptsnap.conf" \
			/usr/local/lib/systemd/system/cryptsnap-backup@.timer >>"$STUB_LOG" 2>&1
		S install
		STUB_BUILD_RC=77 S install
		STUB_BUILD_RC=1 S install
		M uninstall
		find /usr/local /usr/src "$SYSCONFDIR" -type f >>"$STUB_LOG"
	'
}
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	real_mode
	K=$(uname -r)
	want="dkms status -m cryptsnap
dkms remove -m cryptsnap -v 0.9.0 --all
dkms add -m cryptsnap -v 1.0.0
dkms build -m cryptsnap -v 1.0.0 -k $K
dkms install -m cryptsnap -v 1.0.0 -k $K
modprobe dm-cryptsnap
systemctl daemon-reload
make install rc=0
$F/real/etc/cryptsnap/cryptsnap.conf
/usr/local/lib/systemd/system/cryptsnap-backup@.timer
/usr/local/sbin/cryptsnap
/usr/src/cryptsnap-1.0.0/dkms.conf
dkms status -m cryptsnap
dkms remove -m cryptsnap -v 1.0.0 --all
dkms add -m cryptsnap -v 1.0.0
dkms build -m cryptsnap -v 1.0.0 -k $K
dkms install -m cryptsnap -v 1.0.0 -k $K
modprobe dm-cryptsnap
systemctl daemon-reload
install.sh install rc=0
dkms status -m cryptsnap
dkms remove -m cryptsnap -v 1.0.0 --all
dkms add -m cryptsnap -v 1.0.0
dkms build -m cryptsnap -v 1.0.0 -k $K
systemctl daemon-reload
install.sh install rc=0
dkms status -m cryptsnap
dkms remove -m cryptsnap -v 1.0.0 --all
dkms add -m cryptsnap -v 1.0.0
dkms build -m cryptsnap -v 1.0.0 -k $K
install.sh install rc=1
dkms status -m cryptsnap -v 1.0.0
dkms remove -m cryptsnap -v 1.0.0 --all
systemctl daemon-reload
make uninstall rc=0"
	is "real install (stubbed dkms/systemd): add, build, install, modprobe, daemon-reload; an older registered version and a reinstall's own are removed first; 77 = kernel outside the range; a failed build fails; uninstall removes" \
		"$(cat "$F/real/log")" "$want"
	grep -q "outside dkms.conf's BUILD_EXCLUSIVE_KERNEL" "$F/real/out" &&
		grep -q "dkms build failed for $K" "$F/real/out" &&
		ok "real install explains a skipped and a failed dkms build" || no "real install messages: $(cat "$F/real/out")"
else
	n=$((n + 1)); echo "ok $n - install: real install with stubbed dkms # SKIP needs root and unshare -m"
fi
echo "1..$n"
exit $failed
