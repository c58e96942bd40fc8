/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_BINDEX_H
#define CRYPTSNAP_VAULT_BINDEX_H

/*
 * Blob location index: blob id -> (pack, offset, length, type).  In memory
 * an open-addressing hash table (ids are HMAC outputs, so uniformly
 * spread); on disk "index/<session>.idx" objects, each a sealed list of
 * the blobs one writer added.  Not thread-safe: callers hold b->mu.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BLOC_PENDING	UINT32_MAX	/* pack not yet written */
#define PACK_ID_LEN	16
#define BINDEX_REC_LEN	48

struct bloc {
	uint32_t pack;
	uint32_t off;
	uint32_t len;
	uint8_t type;
};

struct bindex_ent {
	uint8_t id[32];
	struct bloc loc;
	uint8_t used;
};

struct bindex_rec {
	uint8_t id[32];
	struct bloc loc;
};

struct bindex {
	struct bindex_ent *tab;
	size_t cap, n;
	uint8_t (*packs)[PACK_ID_LEN];
	size_t npacks, pcap;
	pthread_mutex_t mu;
};

int bindex_init(struct bindex *b);
void bindex_free(struct bindex *b);
/* 1 and *out filled when present, 0 when absent. */
int bindex_get(const struct bindex *b, const uint8_t id[32], struct bloc *out);
/* 1 when inserted, 0 when already present (then updated if replace). */
int bindex_put(struct bindex *b, const uint8_t id[32], const struct bloc *loc,
	       int replace);
int bindex_add_pack(struct bindex *b, const uint8_t pid[PACK_ID_LEN], uint32_t *idx);
/* Drops every entry whose pack keep[] marks 0 (keep has npacks flags). */
int bindex_filter(struct bindex *b, const uint8_t *keep);
void bindex_pack_name(const uint8_t pid[PACK_ID_LEN], char *name, size_t len);

/* Index object payload:
 *   "CSX1" | npacks u32 | nrecs u32 | 0 u32 | pack ids | records
 *   record: id[32] | pack u32 | off u32 | len u32 | type u8 | 0[3]   */
int bindex_encode(const struct bindex *b, const struct bindex_rec *recs, size_t n,
		  uint8_t **out, size_t *len);
/* Merges a payload; rejects anything out of range with -EUCLEAN. */
int bindex_decode(struct bindex *b, const uint8_t *buf, size_t len, uint32_t max_blob);

#endif
