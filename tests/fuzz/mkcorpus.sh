#!/bin/bash
# Regenerates the seed corpus tests/fuzz/corpus/ from real objects: a small
# vault made by the tool (two backups of an image), LUKS1 and LUKS2 headers
# made by cryptsetup on image files, the example configuration file, and
# kernel answers in the documented formats (include/cryptsnap-dm.h).
# Needs `make tool`.  The result is committed; rerun after a format change.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$TOP/tests/fuzz/corpus
CS=$TOP/userspace/cryptsnap
W=$(mktemp -d "${TMPDIR:-/tmp}/cryptsnap-corpus.XXXXXX")
trap 'rm -rf "$W"' EXIT
export CRYPTSNAP_KEY_DIR=$W/keys CRYPTSNAP_STATE_DIR=$W/state CRYPTSNAP_CONFIG=$W/conf
: >"$W/conf" && chmod 600 "$W/conf"

PKGS=$(make -s -f "$TOP/userspace/pkgs.mk" --eval 'pkgs: ; @echo $(CRYPTSNAP_PKGS)' pkgs)
# shellcheck disable=SC2046
gcc -O1 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$TOP/userspace" -I"$TOP/include" \
	$(pkg-config --cflags $PKGS) -o "$W/mkcorpus" "$TOP/tests/fuzz/mkcorpus.c" \
	"$TOP/userspace/libcryptsnap.a" $(pkg-config --libs $PKGS) -lpthread

rm -rf "$OUT" && mkdir -p "$OUT"
for h in $(make -s -C "$TOP/tests/fuzz" print-harnesses); do mkdir -p "$OUT/$h"; done

# --- a vault: two backups, the second over a changed image -------------------
head -c 2M /dev/urandom >"$W/img"
head -c 64K /dev/zero | dd of="$W/img" bs=64K seek=3 conv=notrunc status=none
"$CS" vault init "$W/v" >/dev/null
"$CS" backup --vault "$W/v" --source "$W/img" --disk d1 >/dev/null
head -c 64K /dev/urandom | dd of="$W/img" bs=64K seek=7 conv=notrunc status=none
"$CS" backup --vault "$W/v" --source "$W/img" --disk d1 >/dev/null
"$W/mkcorpus" "$W/v" "$(ls "$W"/keys/*.kek | head -n 1)" "$OUT"
{ printf '\000'; cat "$W/v/keys.json"; } >"$OUT/keyring/peek"
{ printf '\001'; cat "$W/v/keys.json"; } >"$OUT/keyring/open"
# The KEK and vault id fuzz_keyring opens the keyring with (test data only).
mkdir -p "$TOP/tests/fuzz/data"
cp "$(ls "$W"/keys/*.kek | head -n 1)" "$TOP/tests/fuzz/data/keyring.kek"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_id"])' "$W/v/config.json" \
	>"$TOP/tests/fuzz/data/keyring.id"
# Envelope mode 0: type, id and a real envelope (opened with another key).
# Pack mode 2: the head of a real pack, a few records.
python3 - "$W/v" "$OUT/envelope" <<'PY'
import glob, struct, sys
v, out = sys.argv[1], sys.argv[2]
for i, p in enumerate(sorted(glob.glob(v + "/packs/*/*.pack"))[:1]):
    d = open(p, "rb").read()
    (ln,) = struct.unpack("<I", d[40:44])
    open(f"{out}/pack-{i}", "wb").write(b"\x02" + d[:8 + 40 + ln + 40])
    rid, (ln,), typ = d[8:40], struct.unpack("<I", d[40:44]), d[44:45]
    open(f"{out}/envelope-{i}", "wb").write(b"\x00" + typ + rid + d[48:48 + ln])
PY
printf '\003{"new_gen":2}' >"$OUT/envelope/journal"
# Plaintext objects (fuzz_vault_files): mode byte, then the object.
{ printf '\000'; cat "$W/v/config.json"; } >"$OUT/vault_files/config"
for f in "$W"/v/jobs/*.json; do { printf '\001'; cat "$f"; } >"$OUT/vault_files/job-${f##*/}"; done
{ printf '\002'; sed 's/"seq":1,/"seq":2,/' "$W"/v/log/000000000001-*.json; } >"$OUT/vault_files/log"
# This host's state of the vault (fuzz_state_files): mode 1 catalogue
# counter seen, mode 2 KEK pin, with the vault id the harness uses.
vid=$(basename "$(ls -d "$W"/state/vaults/*/)")
{ printf '\001'; sed "s/$vid/00112233445566778899aabbccddeeff/g" "$W"/state/vaults/*/catalogue.json; } >"$OUT/state_files/seen"
{ printf '\002'; sed "s/$vid/00112233445566778899aabbccddeeff/g" "$W"/state/vaults/*/pin.json; } >"$OUT/state_files/pin"
printf '\003host1_4242_0123456789abcdef.shared\n{"time":1796165470}' >"$OUT/vault_files/lock"

# --- LUKS headers ------------------------------------------------------------
head -c 32 /dev/urandom >"$W/key"
for t in luks1 luks2; do
	small=()
	[ $t = luks2 ] && small=(--luks2-metadata-size=16k --luks2-keyslots-size=256k)
	truncate -s 4M "$W/$t.img"
	cryptsetup luksFormat -q --type $t --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$W/key" "${small[@]}" "$W/$t.img"
done
head -c 8K "$W/luks1.img" >"$OUT/luks_meta/luks1"
head -c 32K "$W/luks2.img" >"$OUT/luks_meta/luks2"

# --- the configuration file --------------------------------------------------
cp "$TOP/etc/cryptsnap.conf" "$OUT/config/example.conf"
cat >"$OUT/config/disks.conf" <<'CONF'
[defaults]
vault = /srv/vault
schedule = daily 02:30
keep-daily = 7
cow-size = 2G

[disk "vm1-root"]
schedule = weekly mon,thu 04:00
chunk-size = 64K
pre-freeze = /usr/local/bin/freeze
CONF

# --- kernel answers (mode byte, then the text) -------------------------------
printf '\000128 4096 17 0b1e2f3a-1111-4222-8333-944455556666 3 2 active 40 1024 9 pending 312' >"$OUT/dmparse/status"
printf '\0008 1 0 u 0 0 invalid:cow_full 0 0 0 none 0' >"$OUT/dmparse/status-invalid"
printf '\00110 2 0:3,7:3' >"$OUT/dmparse/changes"
printf '\001100000 0 -' >"$OUT/dmparse/changes-empty"
printf '\002aes-xts-plain64 :64:logon:cryptsetup:0b1e2f3a 0 /dev/vdb 32768 1 allow_discards' >"$OUT/dmparse/crypt"
printf '\002aes-xts-plain64 0011223344556677 0 8:16 4096' >"$OUT/dmparse/crypt-hex"

# --- kernel table and message arguments (fuzz_kargs): mode byte, device
# sectors (LE32, here 2 GiB), then the arguments as device-mapper gets them
kargs() { { printf "\\$(printf %03o "$1")\000\000\100\000"; printf '%s' "$3"; } >"$OUT/kargs/$2"; }
kargs 0 table "128"
kargs 0 table-features "128 0"
kargs 0 table-unknown "128 1 frobnicate"
kargs 1 changes "changes 0 4096"
kargs 1 release "release 0 2048"
kargs 1 release-unchanged "release_unchanged 4096"
kargs 1 cow-timeout "cow_timeout 30"
kargs 1 mem-limit "mem_limit 67108864"
kargs 1 snap-take "snap_take 254:3 256"
kargs 1 snap-drop "snap_drop"
kargs 1 commit "commit"
kargs 2 devt "254:3"

# --- numbers, sizes, dates, hex, names ---------------------------------------
for s in 0 18446744073709551615 4096 64K 1.5G 2GiB 16T 2026-12-01 2026-12-01T10:20:30 @1796165470 \
	0b1e2f3a9c vm1-root host.example.org; do
	printf '%s' "$s" >"$OUT/numbers/$(printf '%s' "$s" | tr -c 'A-Za-z0-9.-' _)"
done
echo "seed corpus in $OUT: $(find "$OUT" -type f | wc -l) inputs"
