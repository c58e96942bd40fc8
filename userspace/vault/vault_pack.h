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

#define PACK_HDR_LEN	8

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
/* blob is a sealed envelope.  Caller reserved id in bi (BLOC_PENDING). */
int pack_writer_add(struct pack_writer *pw, const uint8_t id[32], uint8_t type,
		    const uint8_t *blob, size_t len);
int pack_writer_flush(struct pack_writer *pw);
/* Flushes and publishes the index object of everything written. */
int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c);
void pack_writer_free(struct pack_writer *pw);

#endif
