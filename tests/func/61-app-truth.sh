#!/bin/bash
# Issue 15, application-level truth: ext4 on LUKS2 on a protected disk
# holds a sqlite database under continuous transactions (each commit adds
# one to a counter; a trigger logs a row per increment) and a git
# repository receiving commits in a loop, both written while several
# backups run in a row.  The disk's pre-freeze and post-thaw hooks record
# the counter and the commit count just before the freeze and just after
# the thaw.  Every point is restored, opened with its escrowed key and
# mounted read-only: e2fsck is clean, `pragma integrity_check` says ok
# (on a copy of the database directory, so a hot journal rolls back),
# `git fsck --full` is clean, and the counter and commit count lie
# between the two hook readings of that backup.
#
# In make check-faults only (CRYPTSNAP_FAULTS_LANE=1): docs/reliability.md.
. "$(dirname "$0")/lib.sh"

if [ "${CRYPTSNAP_FAULTS_LANE:-0}" != 1 ]; then
	echo "# 61-app-truth: in make check-faults only"
	exit 0
fi

DISK=/dev/vdc			# 256M, protected
RDEV=/dev/vdb			# restore target
M=/mnt/61 R=/mnt/r61
ROUNDS=${CRYPTSNAP_APP_ROUNDS:-3}
rm -rf /tmp/61.*
t_tool_env 61 'app passphrase'
mkdir -p $M $R
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.org GIT_TEMPLATE_DIR=/nonexistent HOME=/tmp
SQL=(sqlite3 -cmd '.timeout 60000')
scen=0 compared=0 verified=0 lost=0 wrong=0

# Hooks: "$phase $counter $commits" into the current round's file.
cat >/tmp/61.hook <<HOOK
#!/bin/bash
n=\$(${SQL[*]@Q} $M/db/app.db 'select n from c') || exit 1
g=\$(git -C $M/repo rev-list --count HEAD) || exit 1
echo "\$2 \$n \$g" >>/tmp/61.counts.\$(cat /tmp/61.round)
HOOK
chmod +x /tmp/61.hook

t_wipe "$DISK"
cryptsetup luksFormat --type luks2 "${LUKS_FAST[@]}" --key-file "$KEY" "$DISK" >/dev/null 2>&1
cryptsetup open --key-file "$KEY" "$DISK" data61 || t_fail "open"
t_cleanup_add "cryptsetup close data61"
mkfs.ext4 -q -F /dev/mapper/data61
mount /dev/mapper/data61 $M
t_cleanup_add "umount $M"
t_cleanup_add "cryptsnap unprotect data61"
mkdir -p $M/db
"${SQL[@]}" $M/db/app.db "create table c(n integer); insert into c values(0);
	create table log(n integer primary key, pad blob);
	create trigger t after update on c begin insert into log values(new.n, randomblob(1500)); end;"
git init -q $M/repo 2>/dev/null
git -C $M/repo config gc.auto 0
git -C $M/repo config maintenance.auto false
echo 0 >$M/repo/f0 && git -C $M/repo add -A && git -C $M/repo commit -q -m c0
sync

cryptsnap vault init "$VAULT" >/dev/null
t_check "protect the mounted ext4 with counting hooks" cryptsnap protect data61 --vault "$VAULT" \
	--key-file "$KEY" --cow-dir /tmp --pre-freeze /tmp/61.hook --post-thaw /tmp/61.hook

# The writers: one sqlite3 process committing transactions back to back,
# a shell committing to git in a loop.
yes 'begin immediate; update c set n = n + 1; commit;' | "${SQL[@]}" $M/db/app.db >/dev/null 2>/tmp/61.sql.err &
SQLPID=$!
( i=0; cd $M/repo || exit 1
  while [ ! -e /tmp/61.stop ]; do
	i=$((i + 1))
	head -c 3000 /dev/urandom | od -An -x >f$((i % 16))
	git add -A && git commit -q -m "c$i" || { echo "git commit $i failed" >>/tmp/61.git.err; sleep 0.2; }
  done ) &
GITPID=$!
t_cleanup_add "kill $SQLPID $GITPID"
sleep 3

declare -a PT
for k in $(seq 1 "$ROUNDS"); do
	echo "$k" >/tmp/61.round
	cryptsnap backup data61 --json >/tmp/61.b$k 2>/tmp/61.b$k.err
	rc=$?
	PT[$k]=$(sed -n 's/.*"point": *"\([^"]*\)".*/\1/p' /tmp/61.b$k)
	[ $rc = 0 ] && [ -n "${PT[$k]}" ] &&
		t_ok "backup $k while sqlite and git write: $(cat /tmp/61.counts.$k | tr '\n' ' ')" ||
		t_fail "backup $k: rc=$rc $(tail -n 3 /tmp/61.b$k.err)"
	sleep 2
done
touch /tmp/61.stop
kill "$SQLPID" 2>/dev/null	# yes then dies of SIGPIPE
wait "$GITPID" 2>/dev/null
n_end=$("${SQL[@]}" $M/db/app.db 'select n from c')
g_end=$(git -C $M/repo rev-list --count HEAD)
t_diag "writers stopped at counter $n_end, $g_end commits"
[ "${n_end:-0}" -gt 0 ] && [ "${g_end:-0}" -gt 1 ] && t_ok "both writers made progress" ||
	t_fail "writers: counter '$n_end' commits '$g_end' $(tail -n 2 /tmp/61.sql.err /tmp/61.git.err 2>/dev/null)"
t_check "live database passes integrity_check" test "$("${SQL[@]}" $M/db/app.db 'pragma integrity_check')" = ok
t_check "live repository passes git fsck" git -C $M/repo fsck --full

# check_point K: restore point K, open, fsck, mount ro, check the apps.
check_point() {
	local k=$1 pre post n cnt g ok=1
	read -r _ pre_n pre_g < <(grep '^pre-freeze' /tmp/61.counts.$k)
	read -r _ post_n post_g < <(grep '^post-thaw' /tmp/61.counts.$k)
	if ! cryptsnap restore --point "${PT[$k]}" --to $RDEV --force --check-key \
		--escrow-dir /tmp/61.esc$k >/dev/null 2>/tmp/61.r.err; then
		t_fail "point $k: restore failed: $(tail -n 2 /tmp/61.r.err)"; lost=$((lost + 1)); return
	fi
	compared=$((compared + 1))
	if ! cryptsetup open --readonly --key-file /tmp/61.esc$k/key $RDEV r61; then
		t_fail "point $k: escrowed key does not open the restored disk"; wrong=$((wrong + 1)); return
	fi
	t_check "point $k: e2fsck clean" e2fsck -fn /dev/mapper/r61
	if mount -o ro /dev/mapper/r61 $R; then
		rm -rf /tmp/61.dbcopy && cp -a $R/db /tmp/61.dbcopy
		ic=$("${SQL[@]}" /tmp/61.dbcopy/app.db 'pragma integrity_check' 2>&1)
		n=$("${SQL[@]}" /tmp/61.dbcopy/app.db 'select n from c' 2>&1)
		cnt=$("${SQL[@]}" /tmp/61.dbcopy/app.db 'select count(*) from log' 2>&1)
		[ "$ic" = ok ] && t_ok "point $k: sqlite integrity_check ok" ||
			{ t_fail "point $k: integrity_check: $ic"; ok=0; }
		[ "$n" = "$cnt" ] && [ "$n" -ge "$pre_n" ] && [ "$n" -le "$post_n" ] &&
			t_ok "point $k: counter $n within [$pre_n, $post_n], every increment logged" ||
			{ t_fail "point $k: counter '$n' log rows '$cnt' hooks [$pre_n, $post_n]"; ok=0; }
		t_check "point $k: git fsck --full clean" git -C $R/repo fsck --full
		git -C $R/repo fsck --full >/dev/null 2>&1 || ok=0
		g=$(git -C $R/repo rev-list --count HEAD 2>&1)
		[ "$g" -ge "$pre_g" ] 2>/dev/null && [ "$g" -le "$post_g" ] &&
			t_ok "point $k: $g commits within [$pre_g, $post_g]" ||
			{ t_fail "point $k: commits '$g' hooks [$pre_g, $post_g]"; ok=0; }
		umount $R
	else
		t_fail "point $k: restored filesystem does not mount"; ok=0
	fi
	cryptsetup close r61
	[ $ok = 1 ] || wrong=$((wrong + 1))
}
for k in $(seq 1 "$ROUNDS"); do
	scen=$((scen + 1))
	[ -n "${PT[$k]}" ] || { lost=$((lost + 1)); continue; }
	check_point "$k"
done
if cryptsnap verify --vault "$VAULT" >/tmp/61.verify 2>&1; then
	verified=$(grep -c '^ok ' /tmp/61.verify)
	t_ok "vault verifies clean ($verified points)"
else
	t_fail "verify: $(tail -n 3 /tmp/61.verify)"
fi
echo "# app-truth: scenarios run $scen, restores compared $compared, points verified $verified, data lost $lost, wrong restores $wrong"
[ $lost = 0 ] && [ $wrong = 0 ] && t_ok "data lost 0, wrong restores 0" ||
	t_fail "data lost $lost, wrong restores $wrong"
t_cleanup
rm -rf /tmp/61.* /tmp/61.dbcopy
