/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_PACK_H
#define CRYPTSNAP_VAULT_PACK_H

/*
 * The pack writer: groups sealed blobs into pack objects of about
 * v->pack_size, records where each went, and publishes the index object
 * of everything it wrote.
 */
#include <pthread.h>
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

/*
 * The pack writer is shared by the backup's workers, which seal blobs
 * straight into a pack buffer: pack_reserve() hands out room for a run of
 * blobs in the current pack, the worker writes each record header and
 * seals the envelope in place (pack_slot_next), then pack_release().  A
 * pack that is full and has no reservation left goes to the backend
 * asynchronously (store/putq.h); when its put is done its blobs get their
 * places in the index.  Buffers are few (put_parallel + 2): a reserve
 * waits for a put to finish when all are taken.
 *
 * Crash order: nothing names a pack until pack_writer_commit(), which
 * waits for every put, syncs the backend once and only then writes the
 * index object.  A crash or a failed put before that leaves at most
 * packs no index names (GC and repair remove or re-index those).
 */
struct pack_buf;

struct pack_writer {
	struct vault *v;
	struct bindex *bi;
	struct putq *q;
	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t freed;		/* a buffer is back on the free list */
	struct pack_buf *bufs, *free, *cur;
	unsigned int nbufs;
	struct bindex_rec *all;		/* blobs of every put pack */
	size_t nall, capall;
	uint64_t bytes_written;
	uint64_t put_ns;		/* wall time of puts, summed */
	int err;			/* first failed put or seal */
};

/* Room for a run of blobs in one pack, being filled by one thread. */
struct pack_slot {
	struct pack_buf *pb;
	size_t pos, end;
};

/* nputs 0: the backend's put_parallel. */
int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi,
		     unsigned int nputs);
/* Checks a format-2 record header; fills id, len, type.  -EUCLEAN unless
 * 36 <= len <= max_blob, the type is one packs hold and padding is zero. */
int pack_rec_decode(const uint8_t *hdr, uint32_t max_blob, uint8_t id[32],
		    uint32_t *len, uint8_t *type);
/*
 * Reserves room for the first *granted (>= 1) of n blobs whose sealed
 * lengths are lens[] (each id reserved in bi as BLOC_PENDING by the
 * caller), back to back in one pack.  May wait for a free buffer.
 */
int pack_reserve(struct pack_writer *pw, const uint32_t *lens, uint32_t n,
		 uint32_t *granted, struct pack_slot *s);
/* Writes the next record header into s; returns where its len-byte
 * envelope goes. */
uint8_t *pack_slot_next(struct pack_slot *s, const uint8_t id[32], uint8_t type,
			uint32_t len);
/* Ends a reservation; err < 0 (a seal failed) fails the writer. */
void pack_release(struct pack_writer *pw, struct pack_slot *s, int err);
/* Hands the current pack to the backend. */
int pack_writer_flush(struct pack_writer *pw);
/* Flushes, waits for every put, syncs the backend, then publishes the
 * index object of everything written.  The first error of any put. */
int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c);
/* Waits for puts in flight (none is indexed after a failure) and frees. */
void pack_writer_free(struct pack_writer *pw);

#endif
