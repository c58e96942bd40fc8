# Lost index objects are rebuilt from the packs by `vault repair` (pack
# format 2 names each blob; every blob authenticated before it is listed).
# A lost pack is reported by `verify` per point (exit 5), repair drops its
# entries so dedup no longer trusts them, and the next backup stores those
# chunks again: the damaged point heals when the same data is backed up.
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin repair-lost-index-and-pack
two_points
rm -f v/index/*.idx
refused "prune with every index gone: GC refuses" 5 "$CS" prune --vault v
check "vault repair rebuilds the index from the packs" bash -c '"$0" vault repair --vault v >repair.log' "$CS"
check "repair re-indexed the packs" grep -Eq "^[1-9][0-9]* packs re-indexed" repair.log
check "verify passes after repair" "$CS" verify --vault v
check "point 1 restores after repair" restores_exact v "$P1" img1
check "point 2 restores after repair" restores_exact v "$P2" img2

# A forged pack record (valid header, blob that does not open) is not listed.
IDX=$(ls v/index/*.idx | head -1)
F=v/packs/ff/ffffffffffffffffffffffffffffffff.pack
mkdir -p v/packs/ff
python3 - "$F" <<'PY'
import os, struct, sys
rec = os.urandom(32) + struct.pack("<I", 100) + b"D\0\0\0" + b"CSB1D\x01\0\0" + os.urandom(92)
open(sys.argv[1], "wb").write(b"CSPK\2\0\0\0" + rec)
PY
chmod 600 "$F"
refused "repair of a forged pack: exit 5" 5 "$CS" vault repair --vault v
check "the forged pack is named" grep -q "damaged pack.*${F#v/}" stdout.log
rm -f "$F"

PK=$(find v/packs -name '*.pack' | sort | head -1)
mv "$PK" lost.pack
"$CS" verify --vault v >verify.log 2>&1
check "verify with a pack gone: exit 5" test $? = 5
check "verify names the missing pack by point" grep -q "DAMAGED .*: needs missing pack ${PK#v/}" verify.log
refused "repair with a pack gone: exit 5, data lost" 5 "$CS" vault repair --vault v
check "repair names the damaged point" grep -q "DAMAGED .*blobs were in missing packs" stdout.log
check "prune runs GC after repair (the loss is not a missing index)" "$CS" prune --vault v
check "backup of image 1 stores the lost chunks again" backup_new v img1 d1
N1=$NEW
check "backup of image 2 stores its lost segment again" backup_new v img2 d1
check "verify passes: the damaged points healed" "$CS" verify --vault v
check "point 1 restores byte for byte" restores_exact v "$P1" img1
check "point 2 restores byte for byte" restores_exact v "$P2" img2
check "the new point restores byte for byte" restores_exact v "$N1" img1
still_works
case_end
