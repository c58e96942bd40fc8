/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_MANIFEST_H
#define CRYPTSNAP_VAULT_MANIFEST_H

/*
 * A recovery point's manifest: which disk, when, how big, which index
 * segments, and the escrow slots.  JSON, sealed as one blob in
 * "points/<id>.point".  Decoding validates every field against the vault's
 * geometry, so a hostile manifest is rejected, never trusted.
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/names.h"
#include "vault/vault_seg.h"

#define POINT_ID_MAX		40
#define POINT_ID_SECOND_LEN	16	/* "YYYYMMDDTHHMMSSZ", the id's creation second */
#define MANIFEST_MAX_ESCROW	8
#define MANIFEST_MAX_META	16
#define ESCROW_NAME_MAX		64
#define ESCROW_DATA_MAX		(16U << 20)
#define MANIFEST_IMAGE_MAX	(1ULL << 56)

enum escrow_kind {
	ESCROW_DEK = 1,		/* sealed with the vault DEK (LUKS header) */
	ESCROW_KEK = 2,		/* sealed with a slot key wrapped by the KEK */
	/*
	 * The point's own image holds the bytes: the slot records how many
	 * from the start of the image and their SHA-256 (ESCROW_IMAGE_LEN
	 * bytes), so a LUKS header is stored once, by dedup, not once more
	 * per point.  The manifest is sealed, so the record is authentic.
	 */
	ESCROW_IMAGE = 3,
};

#define ESCROW_IMAGE_LEN	40	/* u64 LE length, SHA-256 */

struct escrow_wrap {
	uint32_t gen;		/* KEK generation that wrapped the slot key */
	uint8_t *data;
	size_t len;
};

struct escrow_slot {
	char name[ESCROW_NAME_MAX];
	int kind;
	uint8_t *data;
	size_t len;
	unsigned int nwraps;
	struct escrow_wrap wraps[2];	/* two only while a rotation runs */
};

struct manifest {
	char id[POINT_ID_MAX];
	char disk[DISK_NAME_MAX + 1];
	char base[POINT_ID_MAX];
	int64_t created;
	int64_t retain_until;		/* 0: none */
	int64_t deleted;		/* 0: live; else when prune deleted it */
	uint64_t image_size;
	uint32_t chunk_size;
	uint32_t seg_chunks;
	uint64_t nsegs;
	seg_id_t *segs;			/* zero id: all-zero segment */
	uint64_t chunks_zero, chunks_new, bytes_new, bytes_stored;
	unsigned int nescrow;
	struct escrow_slot escrow[MANIFEST_MAX_ESCROW];
	unsigned int nmeta;
	char meta_key[MANIFEST_MAX_META][32];
	char meta_val[MANIFEST_MAX_META][256];
};

int point_id_valid(const char *id);
int escrow_name_valid(const char *name);
uint64_t manifest_nchunks(const struct manifest *m);
uint64_t manifest_segs_for(uint64_t image_size, uint32_t chunk_size, uint32_t seg_chunks);
/* Chunks in segment s (the last one may be short). */
uint32_t manifest_seg_len(const struct manifest *m, uint64_t s);

/* One escrow slot as JSON (shared with disk records); decode validates
 * name, kind and sizes and frees what it allocated on failure. */
struct json_object;
struct json_object *escrow_slot_json(const struct escrow_slot *e);
int escrow_slot_decode(struct json_object *x, struct escrow_slot *e);
void escrow_slot_free(struct escrow_slot *e);

int manifest_encode(const struct manifest *m, char **out, size_t *len);
int manifest_decode(const void *buf, size_t len, uint32_t chunk_size,
		    uint32_t seg_chunks, struct manifest *m);
int manifest_set_meta(struct manifest *m, const char *key, const char *val);
const char *manifest_meta(const struct manifest *m, const char *key);
void manifest_free(struct manifest *m);

#endif
