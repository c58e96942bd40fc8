/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_POINT_READER_H
#define CRYPTSNAP_POINT_READER_H

/*
 * Random access to a recovery point's image (the disk's ciphertext as it
 * was), for a block device served from the vault: each chunk is fetched
 * and authenticated on demand, through a bounded LRU cache of chunks and
 * a few decoded index segments; a miss reads ahead the chunks stored
 * right behind it, with the same request.  All-zero chunks are never
 * fetched.  A
 * chunk that cannot be read or authenticated fails the read (never wrong
 * data) and names itself in *bad.  Any number of threads may read one
 * point_reader at once: they share the cache, and fetch and decrypt in
 * parallel.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_manifest.h"

struct point_reader;

struct point_reader_stats {
	uint64_t reads;		/* requests to the backend */
	uint64_t fetched;	/* chunks read from the backend (read-ahead too) */
	uint64_t hits;		/* chunks served from the cache */
	uint64_t zero;		/* zero chunks served without a fetch */
};

int point_reader_open(struct vault *v, struct bindex *bi, const struct manifest *m,
		      size_t cache_bytes, struct point_reader **out);
/* Bytes [off, off + len) of the image; -EINVAL past its end; on damage
 * the errno and the first bad chunk's number in *bad. */
int point_reader_read(struct point_reader *pr, uint64_t off, void *buf, size_t len,
		      uint64_t *bad);
void point_reader_stats(struct point_reader *pr, struct point_reader_stats *st);
void point_reader_close(struct point_reader *pr);

#endif
