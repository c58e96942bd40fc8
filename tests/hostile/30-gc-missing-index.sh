# GC computes what is live from the points; a missing or damaged index
# object makes it refuse (exit 5, naming the object) instead of deleting
# packs a kept point needs.
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin gc-missing-index
two_points
packs_sum >packs.before
IDX=$(ls v/index/*.idx | head -1)
mv "$IDX" idx.saved
refused "prune with an index object missing: GC refuses" 5 "$CS" prune --vault v
check "the refusal says a point needs a blob no index lists" said "no index object lists"
check "no pack was deleted" bash -c "packs_sum() { find v/packs -type f -name '*.pack' | sort | xargs sha256sum; }; packs_sum | cmp -s - packs.before"
mv idx.saved "$IDX"
check "point 1 still restores byte for byte" restores_exact v "$P1" img1
check "point 2 still restores byte for byte" restores_exact v "$P2" img2

cp "$IDX" idx.saved
printf 'XXXX' | dd of="$IDX" bs=1 seek=40 conv=notrunc status=none
refused "prune with a damaged index object: GC refuses" 5 "$CS" prune --vault v
check "the refusal names the index object" said "index object ${IDX#v/} cannot be read"
check "no pack was deleted" bash -c "find v/packs -type f -name '*.pack' | sort | xargs sha256sum | cmp -s - packs.before"
cp idx.saved "$IDX"
check "point 1 restores after the index is back" restores_exact v "$P1" img1
check "point 2 restores after the index is back" restores_exact v "$P2" img2

cp v/points/"$P1".point point.saved
printf 'garbage' >v/points/"$P1".point
refused "prune with an unreadable manifest: refuses" 5 "$CS" prune --vault v
check "no pack was deleted" bash -c "find v/packs -type f -name '*.pack' | sort | xargs sha256sum | cmp -s - packs.before"
cp point.saved v/points/"$P1".point
check "prune of an intact vault runs GC" "$CS" prune --vault v
check "point 1 restores after GC" restores_exact v "$P1" img1
still_works
case_end
