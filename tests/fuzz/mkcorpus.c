// SPDX-License-Identifier: GPL-2.0
/*
 * Seed corpus from a real vault (tests/fuzz/mkcorpus.sh makes one with the
 * tool): writes the plaintext of its sealed objects, as the decoders see
 * it after authentication, into OUT/<harness>/:
 *   catalogue/  counter byte + catalogue JSON, every catalogue version
 *   manifest/   every point's manifest JSON
 *   index/      every index object's payload
 *   envelope/   mode byte 1, chunk count - 1 (LE16) + every segment
 *   disk_rec/   a disk record as vault_disk_encode() writes it (disk
 *               records need a protected disk, so none is in the vault)
 *   state_files/ mode byte 0 + a disk's state as disk_state_save() writes
 *               it to $CRYPTSNAP_STATE_DIR (the same reason)
 * Usage: mkcorpus VAULT KEK OUT
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "sys/disk_state.h"
#include "sys/source.h"
#include "store/backend.h"
#include "vault/vault.h"
#include "vault/vault_disk.h"
#include "vault/vault_index.h"
#include "vault/vault_manifest.h"
#include "vault/vault_points.h"
#include "vault/vault_sealed.h"
#include "vault/vault_seg.h"

static const char *out_dir;

static void save(const char *harness, const char *name, int prefix,
		 const void *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, harness, name);
	f = fopen(path, "w");
	if (!f || (prefix >= 0 && fputc(prefix, f) == EOF) ||
	    fwrite(buf, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "mkcorpus: cannot write %s\n", path);
		exit(1);
	}
}

static int dump(struct vault *v, struct blob_ctx *c, const char *prefix, uint8_t type,
		const char *harness)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, prefix, &l);

	for (i = 0; !r && i < l.n; i++) {
		const char *base = strrchr(l.names[i], '/') + 1;
		char idname[64];
		uint64_t counter = 0;
		uint8_t *buf;
		size_t len;

		snprintf(idname, sizeof(idname), "%.*s", (int)strcspn(base, "."), base);
		r = vault_get_sealed(v, c, type, l.names[i], idname, 256 << 20, &buf, &len);
		if (r < 0)
			break;
		if (type == BLOB_CATALOGUE)
			counter = strtoull(idname, NULL, 16);
		save(harness, idname, type == BLOB_CATALOGUE ? (int)(counter & 0xff) : -1,
		     buf, len);
		free(buf);
	}
	name_list_free(&l);
	return r;
}

static int save_seg(const char *name, uint32_t chunks, const uint8_t *seg, size_t len)
{
	uint8_t *b = malloc(len + 2);

	if (!b)
		return -ENOMEM;
	b[0] = (uint8_t)(chunks - 1);
	b[1] = (uint8_t)((chunks - 1) >> 8);
	memcpy(b + 2, seg, len);
	save("envelope", name, 1, b, len + 2);
	free(b);
	return 0;
}

static int dump_segs(struct vault *v, struct blob_ctx *c)
{
	struct name_list ids = { 0 };
	struct bindex bi;
	size_t i;
	int r = bindex_init(&bi);

	if (!r)
		r = vault_index_load(v, &bi, NULL);
	if (!r)
		r = vault_point_ids(v, &ids);
	for (i = 0; !r && i < ids.n; i++) {
		struct manifest m;
		uint8_t *seg = malloc(vault_max_blob(v));
		uint64_t s;
		size_t len;

		r = seg ? vault_point_load(v, c, ids.names[i], &m) : -ENOMEM;
		if (r < 0) {
			free(seg);
			break;
		}
		for (s = 0; !r && s < m.nsegs; s++) {
			char name[128];

			if (seg_is_zero_id(m.segs[s]))
				continue;
			r = vault_blob_read(v, &bi, c, m.segs[s], BLOB_SEG, seg,
					    vault_max_blob(v), &len);
			snprintf(name, sizeof(name), "seg-%s-%" PRIu64, ids.names[i], s);
			if (!r)
				r = save_seg(name, manifest_seg_len(&m, s), seg, len);
		}
		manifest_free(&m);
		free(seg);
	}
	name_list_free(&ids);
	bindex_free(&bi);
	return r;
}

static int disk_rec(void)
{
	struct vault_disk_rec rec = { .luks_version = 2, .size = 1ULL << 30,
				      .chunk_size = 65536, .created = 1796165470,
				      .key_escrowed = 1796165471 };
	struct escrow_slot e = { .kind = ESCROW_KEK, .len = 60, .nwraps = 1 };
	uint8_t data[60] = { 0 }, wrap[40] = { 0 };
	char *s;
	size_t len;
	int r;

	snprintf(rec.name, sizeof(rec.name), "vm1-root");
	snprintf(rec.luks_uuid, sizeof(rec.luks_uuid), "0b5c1a7e-3f2d-4c8b-9a6e-5d4f3e2a1b0c");
	snprintf(e.name, sizeof(e.name), DISK_KEY_SLOT);
	e.data = data;
	e.wraps[0].gen = 4;
	e.wraps[0].len = sizeof(wrap);
	e.wraps[0].data = wrap;
	r = vault_disk_set_meta(&rec, "mapping", "vm1-root-crypt");
	if (!r)
		r = vault_disk_encode(&rec, &e, &s, &len);
	if (!r) {
		save("disk_rec", "vm1-root", -1, s, len);
		free(s);
	}
	return r;
}

static int disk_state(void)
{
	struct disk_state d = { .chunk_sectors = 128, .size = 1ULL << 30,
				.cow_size = 1ULL << 28, .last_counter = 3,
				.created = 1796165470 };
	char path[4096];
	uint8_t *buf;
	size_t len;
	int r;

	snprintf(d.name, sizeof(d.name), "d1");
	snprintf(d.vault, sizeof(d.vault), "/srv/vault");
	snprintf(d.backing, sizeof(d.backing), "/dev/vdb");
	snprintf(d.crypt, sizeof(d.crypt), "d1-crypt");
	snprintf(d.origin, sizeof(d.origin), "cryptsnap-d1");
	snprintf(d.luks_uuid, sizeof(d.luks_uuid), "0b5c1a7e-3f2d-4c8b-9a6e-5d4f3e2a1b0c");
	snprintf(d.cow_dir, sizeof(d.cow_dir), "/var/lib/cryptsnap/cow");
	snprintf(d.last_point, sizeof(d.last_point), "20261201T225357Z-b68cf0de");
	snprintf(d.last_uuid, sizeof(d.last_uuid), "0b1e2f3a-1111-4222-8333-944455556666");
	r = disk_state_prepare();
	if (!r)
		r = disk_state_save(&d);
	snprintf(path, sizeof(path), "%s/disks/d1.json", disk_state_dir());
	if (!r)
		r = read_small_file(path, 1 << 20, &buf, &len);
	if (!r) {
		save("state_files", "disk", 0, buf, len);
		free(buf);
	}
	return r;
}

int main(int argc, char **argv)
{
	struct vault *v;
	struct blob_ctx c;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: mkcorpus VAULT KEK OUT\n");
		return 2;
	}
	out_dir = argv[3];
	r = vault_open(argv[1], &v);
	if (!r)
		r = vault_unlock(v, argv[2]);
	if (!r)
		r = blob_ctx_init(&c, v);
	if (!r)
		r = dump(v, &c, "catalogue/", BLOB_CATALOGUE, "catalogue");
	if (!r)
		r = dump(v, &c, "points/", BLOB_MANIFEST, "manifest");
	if (!r)
		r = dump(v, &c, "index/", BLOB_INDEX, "index");
	if (!r)
		r = dump_segs(v, &c);
	if (!r)
		r = disk_rec();
	if (!r)
		r = disk_state();
	if (r < 0) {
		fprintf(stderr, "mkcorpus: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
