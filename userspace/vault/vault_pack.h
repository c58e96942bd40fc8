/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_PACK_H
#define CRYPTSNAP_VAULT_PACK_H

/*
 * The pack writer: groups sealed blobs into pack objects of about
 * v->pack_size, records where each went, and publishes the index object
 * of everything it wrote.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"

/*
 * Pack format 2 (written since issue 11), self-describing so that a lost
 * index can be rebuilt from the packs (vault_repair.h):
 *   "CSPK" 2 0 0 0 | { id[32] | len u32 | type u8 | 0[3] | envelope[len] }*
 * The index points at the envelope.  Format 1 ("CSPK" 1 0 0 0, envelopes
 * back to back) is still read through the index, but cannot be re-indexed.
 */
#define PACK_HDR_LEN	8
#define PACK_REC_LEN	40
#define PACK_VERSION	2

struct pack_writer {
	struct vault *v;
	struct bindex *bi;
	uint8_t *buf;
	size_t len;
	struct bindex_rec *cur, *all;
	size_t ncur, capcur, nall, capall;
	uint64_t bytes_written;
};

int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi);
/* Checks a format-2 record header; fills id, len, type.  -EUCLEAN unless
 * 36 <= len <= max_blob, the type is one packs hold and padding is zero. */
int pack_rec_decode(const uint8_t *hdr, uint32_t max_blob, uint8_t id[32],
		    uint32_t *len, uint8_t *type);
/* blob is a sealed envelope.  Caller reserved id in bi (BLOC_PENDING). */
int pack_writer_add(struct pack_writer *pw, const uint8_t id[32], uint8_t type,
		    const uint8_t *blob, size_t len);
int pack_writer_flush(struct pack_writer *pw);
/* Flushes and publishes the index object of everything written. */
int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c);
void pack_writer_free(struct pack_writer *pw);

#endif
