# Bounded reads: an object larger than the limit of its kind (by name
# prefix, store/backend.c) is refused before it is read into memory, and
# reported as damaged (exit 5) naming the object.  The tool runs with its
# address space capped at 400 MiB, so reading a planted 1 GiB "index" or
# 200 MiB "manifest" whole would fail differently (exit 1, out of memory).
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin bounded-reads
two_points
capped() { bash -c 'ulimit -v 409600; exec "$@"' capped "$@"; }
BIG=v/index/0123456789abcdef0123456789abcdef.idx
truncate -s 1G "$BIG" && chmod 600 "$BIG"
capped "$CS" verify --vault v >verify.log 2>&1
check "verify with a 1 GiB index: exit 5" test $? = 5
check "verify names the oversized index" grep -q "DAMAGED index object ${BIG#v/}" verify.log
refused "prune with a 1 GiB index: GC refuses" 5 capped "$CS" prune --vault v
check "the refusal names the index" said "${BIG#v/}"
check "point 1 restores with the big index present" capped bash -c "$(declare -f restores_exact); CS=$CS WORK=$WORK restores_exact v $P1 img1"
rm -f "$BIG"

cp v/points/"$P1".point p1.saved
truncate -s 200M v/points/"$P1".point
refused "points with a 200 MiB manifest: exit 5" 5 capped "$CS" points --vault v
check "the refusal names the point" said "$P1"
refused "restore of the oversized point: exit 5" 5 capped "$CS" restore --vault v --point "$P1" --to out.img
check "no restore target was left" test ! -e out.img
check "point 2 still restores" restores_exact v "$P2" img2
cp p1.saved v/points/"$P1".point

cp v/keys.json keys.saved
truncate -s 100M v/keys.json
refused "a 100 MiB keys.json: exit 5" 5 capped "$CS" points --vault v
cp keys.saved v/keys.json
check "point 1 restores after the keyring is back" restores_exact v "$P1" img1
still_works
case_end
