# The authenticated catalogue of points: a deleted point, a rolled-back
# manifest (an older one replayed under the same id), a replayed catalogue
# and a point not in the catalogue are reported by `verify` and `points`
# (exit 5); the host notices a counter going backwards.  A vault of an older
# build (no catalogue) gets one from the first command that writes.
. "$TOP/tests/hostile/catalogue-lib.sh"
case_begin catalogue
two_points
VID=$(python3 -c 'import json; print(json.load(open("v/config.json"))["vault_id"])')
check "verify passes with the catalogue" "$CS" verify --vault v
check "the host recorded the catalogue counter" test -s "state/vaults/$VID/catalogue.json"

# A deleted point.
mv v/points/"$P1".point p1.saved
refused "points with a deleted point: exit 5" 5 "$CS" points --vault v
check "the refusal names the deleted point" said "point $P1 was deleted"
"$CS" verify --vault v >verify.log 2>&1
check "verify with a deleted point: exit 5" test $? = 5
check "verify names the deleted point" grep -q "DAMAGED catalogue: point $P1 was deleted" verify.log
"$CS" verify --vault v --json >verify.json 2>&1
check "verify --json: exit 5" test $? = 5
check "verify --json reports the catalogue damaged" python3 -c 'import json,sys; c=json.load(open("verify.json"))["catalogue"]; sys.exit(not (c["state"] == "damaged" and "'"$P1"' was deleted" in c["damage"][0]))'
mv p1.saved v/points/"$P1".point

# A rolled-back manifest: key rotation rewrites every manifest; the
# attacker puts the older one back under the same id.  It still opens
# (same DEK), so only the catalogue can tell.
cp v/points/"$P1".point p1.old
check "rotate the KEK (rewrites manifests)" "$CS" key rotate --vault v
check "verify passes after the rotation" "$CS" verify --vault v
cp v/points/"$P1".point p1.new
cp p1.old v/points/"$P1".point
refused "points with a rolled-back manifest: exit 5" 5 "$CS" points --vault v
check "the refusal names the rolled-back point" said "point $P1 has a manifest that is not the one"
"$CS" verify --vault v >verify.log 2>&1
check "verify with a rolled-back manifest: exit 5" test $? = 5
cp p1.new v/points/"$P1".point

# A replayed catalogue: the attacker keeps an old catalogue, lets a backup
# run, then deletes the new point and every newer catalogue version.
cp -a v/catalogue cat.old
check "backup 3" backup_new v img1 d1
P3=$NEW
rm -rf v/catalogue && cp -a cat.old v/catalogue && rm -f v/points/"$P3".point
refused "points with a replayed catalogue: exit 5" 5 "$CS" points --vault v
check "the refusal says the counter went back" said "went back to counter"
refused "backup refuses to build on a replayed catalogue" 5 "$CS" backup --vault v --source img1 --disk d1
rm -rf v/catalogue
refused "a deleted catalogue this host saw: exit 5" 5 "$CS" points --vault v

# A point the catalogue does not list (a deleted point's manifest put back
# after its removal was recorded).
rm -rf v/catalogue && mv cat.old v/catalogue
rm -f "state/vaults/$VID/catalogue.json"
check "a host that never saw the vault takes its catalogue" "$CS" verify --vault v
check "point 1 restores byte for byte" restores_exact v "$P1" img1
check "point 2 restores byte for byte" restores_exact v "$P2" img2
mkdir saved && cp v/points/*.point saved/
# (deleted, then purged by GC: --now past the 14 days of grace)
check "prune removes one point" "$CS" prune --vault v --keep-last 1 --disk d1 \
	--now "@$(( $(date +%s) + 15 * 86400 ))"
GONE=$(ls saved | grep -vxFf <(ls v/points) | sed 's/\.point$//')
cp saved/"$GONE".point v/points/
refused "a replayed deleted point is not in the catalogue: exit 5" 5 "$CS" points --vault v
check "the refusal names it" said "point $GONE is not in the catalogue"
rm -f v/points/"$GONE".point

# An older build's vault: no catalogue, and a host that never saw one.
rm -rf v/catalogue "state/vaults/$VID"
check "verify of a vault without catalogue passes and says so" bash -c '"$0" verify --vault v | grep -q "none yet"' "$CS"
"$CS" prune --vault v --no-gc >prune.out 2>prune.err
check "prune builds the catalogue and says so" grep -q "catalogue of points built from the 1 points present" prune.err
check "verify passes with the built catalogue" "$CS" verify --vault v
still_works
case_end
