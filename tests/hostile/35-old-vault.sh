# A vault written by the build before issue 11 (data/vault-v1.tar.gz: pack
# format 1, no catalogue of points, two points of disk d1) stays usable:
# it verifies and restores, the first write builds its catalogue and says
# so, new packs are format 2, and repair says which old packs it cannot
# re-index instead of guessing.  The KEK is named explicitly (--kek): the
# fixture's keyring records a path of the machine that wrote it.
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin old-vault
tar -xzf "$TOP/tests/hostile/data/vault-v1.tar.gz"
chmod 600 old.kek
cp img1 img2 && dd if=patch of=img2 bs=64K seek=1 conv=notrunc status=none
O1=$(ls v/points | sed -n 1p | sed 's/\.point$//')
O2=$(ls v/points | sed -n 2p | sed 's/\.point$//')
K="--kek old.kek"
restore_k() { rm -f r.img; "$CS" restore --vault v $K --point "$1" --to r.img >/dev/null 2>&1 && cmp -s r.img "$2"; }
check "the old vault verifies" "$CS" verify --vault v $K
check "verify says it has no catalogue yet" bash -c '"$0" verify --vault v --kek old.kek | grep -q "none yet"' "$CS"
check "old point 1 restores byte for byte" restore_k "$O1" img1
check "old point 2 restores byte for byte" restore_k "$O2" img2
ls v/points >points.before
"$CS" backup --vault v $K --source img2 --disk d1 >backup.out 2>backup.err
check "a backup into the old vault works" test $? = 0
check "it built the catalogue and said so" grep -q "catalogue of points built from the 2 points present" backup.err
check "verify passes with the catalogue" "$CS" verify --vault v $K
NEWP=$(ls v/points | grep -vxFf points.before | sed 's/\.point$//')
check "the new point restores byte for byte" restore_k "$NEWP" img2
head -c 64K /dev/urandom | dd of=img2 bs=64K seek=0 conv=notrunc status=none
"$CS" backup --vault v $K --source img2 --disk d1 >/dev/null 2>&1
check "new data goes to a format-2 pack" bash -c 'for f in $(find v/packs -name "*.pack" -newer backup.err); do head -c 5 "$f" | od -An -c | grep -q "C   S   P   K 002" && exit 0; done; exit 1'
rm -f v/index/*.idx
refused "repair of old packs without index: exit 5" 5 "$CS" vault repair --vault v $K
check "repair names the format-1 packs" grep -q "cannot re-index (pack format 1)" stdout.log
check "the format-2 pack was re-indexed" grep -Eq "^[1-9][0-9]* packs re-indexed" stdout.log
refused "prune refuses while old packs are unindexed" 5 "$CS" prune --vault v $K
check "no pack was deleted" test "$(find v/packs -name '*.pack' | wc -l)" -ge 3
case_end
