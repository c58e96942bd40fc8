/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_STORE_H
#define CRYPTSNAP_VAULT_STORE_H

/*
 * Object-level operations on an unlocked vault: sealed named objects
 * (points, indexes), blobs by id through the location index, and the pack
 * writer that groups blobs into pack objects of about v->pack_size.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

#define PACK_HDR_LEN	8
#define INDEX_MAX	(2ULL << 30)
#define MANIFEST_MAX	(64U << 20)

/* Largest plaintext blob: a chunk or a worst-case segment. */
uint32_t vault_max_blob(const struct vault *v);

int vault_put_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, const void *buf, size_t len);
int vault_get_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, size_t max,
		     uint8_t **buf, size_t *len);
/* The same with an explicit 32-byte AAD id (names longer than 32 bytes). */
int vault_put_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN],
			const void *buf, size_t len);
int vault_get_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN], size_t max,
			uint8_t **buf, size_t *len);

/* Loads every index object; names of damaged ones go to *damaged (may be
 * NULL).  Damage is not an error here: it shows up as missing blobs. */
int vault_index_load(struct vault *v, struct bindex *bi, struct name_list *damaged);

/* Reads and opens one blob; *len gets the plaintext length. */
int vault_blob_read(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		    const uint8_t id[32], uint8_t type, uint8_t *out, size_t max,
		    size_t *len);

/* Points. */
int vault_point_ids(struct vault *v, struct name_list *ids);
int vault_point_load(struct vault *v, struct blob_ctx *c, const char *id,
		     struct manifest *m);
int vault_point_save(struct vault *v, struct blob_ctx *c, const struct manifest *m);
int vault_point_delete(struct vault *v, const char *id);
/*
 * Loads every point's manifest in turn and calls fn on it, saving the
 * manifest when fn returns > 0 (as vault_disk_for_each_key() does).
 * With skip_gone, a point deleted since the listing (-ENOENT) is skipped.
 * Stops at the first error; when that was a load, the point's id goes to
 * failed_id (POINT_ID_MAX bytes, may be NULL).
 */
int vault_point_for_each(struct vault *v, int skip_gone,
			 int (*fn)(struct vault *, struct manifest *, void *),
			 void *arg, char *failed_id);

/* Segment of a point, decoded into ids[seg_chunks]. */
int vault_seg_load(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		   const struct manifest *m, uint64_t s, seg_id_t *ids);

struct pack_writer {
	struct vault *v;
	struct bindex *bi;
	uint8_t *buf;
	size_t len;
	struct bindex_rec *cur, *all;
	size_t ncur, capcur, nall, capall;
	uint64_t bytes_written;
	uint8_t session[16];
};

int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi);
/* blob is a sealed envelope.  Caller reserved id in bi (BLOC_PENDING). */
int pack_writer_add(struct pack_writer *pw, const uint8_t id[32], uint8_t type,
		    const uint8_t *blob, size_t len);
int pack_writer_flush(struct pack_writer *pw);
/* Flushes and publishes the index object of everything written. */
int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c);
void pack_writer_free(struct pack_writer *pw);

#endif
