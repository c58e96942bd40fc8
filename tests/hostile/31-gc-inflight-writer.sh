# A running backup whose lock was deleted: GC keeps the packs and index
# objects it has written (younger than the grace period, GC_GRACE_SECONDS),
# and the backup still publishes a point that restores.  Unreferenced
# objects older than the grace period are still collected.
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin gc-inflight-writer
two_points
head -c 96M /dev/urandom >big
ls v/points >points.before
touch marker
"$CS" backup --vault v --source big --disk d2 >bk.log 2>&1 &
BK=$!
for _ in $(seq 1 400); do
	[ "$(find v/packs -type f -newer marker | wc -l)" -ge 2 ] && break
	sleep 0.02
done
kill -STOP "$BK"
find v/packs v/index -type f -newer marker | sort >inflight.list
check "the paused backup has written packs" test "$(grep -c pack inflight.list)" -ge 2
rm -f v/locks/*
check "prune runs with the writer's lock gone" "$CS" prune --vault v
check "every object of the unfinished session survived GC" bash -c 'while read -r f; do test -e "$f" || exit 1; done <inflight.list'
kill -CONT "$BK"
wait "$BK"
check "the resumed backup completes" test $? = 0
check "its point restores byte for byte" restores_exact v "$(ls v/points | grep -vxFf points.before | sed 's/\.point$//')" big
check "point 1 still restores byte for byte" restores_exact v "$P1" img1

# A pack no index lists and older than the grace period is collected.
ORPHAN=v/packs/00/00000000000000000000000000000000.pack
mkdir -p v/packs/00 && head -c 1000 /dev/urandom >"$ORPHAN" && chmod 600 "$ORPHAN"
check "prune keeps a young unreferenced pack" "$CS" prune --vault v
check "young orphan kept" test -e "$ORPHAN"
touch -d '2 days ago' "$ORPHAN"
check "prune collects an old unreferenced pack" "$CS" prune --vault v
check "old orphan deleted" test ! -e "$ORPHAN"
check "point 2 still restores byte for byte" restores_exact v "$P2" img2
still_works
case_end
