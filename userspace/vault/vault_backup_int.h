/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_BACKUP_INT_H
#define CRYPTSNAP_VAULT_BACKUP_INT_H

/*
 * Inside the backup engine, shared by vault_backup.c (begin, submit, seal,
 * commit) and vault_backup_pipeline.c (batches, queues, worker and writer
 * threads).  Nothing outside these two files includes this.
 *
 * A batch travels: free list -> caller fills -> work queue -> a worker
 * hashes and dedups its chunks, reserves room for the new ones in the
 * current pack and seals them straight into it (vault_pack.h) -> free
 * list.  Full packs are put by the pack writer's own threads.
 *
 * Locking: vb->mu guards the queues, segment states and the first error;
 * vb->bi.mu guards the blob index.  Segment id slots are written by the
 * worker owning the chunk without a lock: each chunk is in one batch.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"
#include "vault/vault_pack.h"
#include "vault/vault_seg.h"

#define BATCH_BYTES	(4U << 20)
#define MAX_WORKERS	16

enum { BATCH_CHUNKS, BATCH_STOP };

/* A chunk of the batch that is new to the vault. */
struct blob_ref {
	uint8_t id[32];
	uint32_t off;			/* chunk index in the batch */
	uint32_t len;			/* sealed length */
};

struct batch {
	struct batch *next;
	int kind;
	uint64_t first;
	uint32_t n;
	uint8_t *in;			/* n chunks of plaintext */
	uint32_t nblobs;
	struct blob_ref *blobs;
	uint32_t *lens;			/* blobs[].len, for pack_reserve */
};

struct queue {
	struct batch *head, *tail;
	pthread_cond_t cond;
};

struct seg_state {
	seg_id_t *ids;
	uint32_t pending;
	uint8_t touched, closed, done;
};

struct vault_backup {
	struct vault *v;
	int own_lock;
	struct bindex bi;
	struct manifest m;
	struct manifest base;
	int have_base;
	int sealed;			/* seal() done: packs, index, escrow durable */
	struct blob_ctx ctx;		/* caller thread */
	struct pack_writer pw;
	struct seg_state *segs;
	uint32_t batch_chunks;
	uint64_t nchunks, next_chunk;
	unsigned int nworkers;
	pthread_t workers[MAX_WORKERS];
	int threads_started;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	struct queue freeq, workq;
	struct batch *batches;
	unsigned int nbatches;
	uint32_t inflight;		/* batches submitted, not yet sealed */
	int err;
	struct vault_backup_stats st;
	const struct vault_backup_opts *opts;
};

uint64_t backup_now_ns(void);
/* Adds the time since *t0 to stage k and restarts the clock. */
void backup_stage_add(struct vault_backup *vb, int k, uint64_t *t0);
/* Queue operations; vb->mu held. */
void backup_q_push(struct queue *q, struct batch *b);
/* NULL when an error stopped the pipeline (stop_on_err). */
struct batch *backup_q_pop(struct vault_backup *vb, struct queue *q, int stop_on_err);
/* Records the first error and wakes every waiter; vb->mu not held. */
void backup_set_err(struct vault_backup *vb, int err);

/* With vb->mu held: marks ready segments done and lists them in *ready. */
void backup_seg_release(struct vault_backup *vb, uint64_t from, uint64_t to,
			uint64_t *ready, unsigned int *nready);
/* Encodes and seals a finished segment; runs in whichever thread closed it. */
int backup_seg_finalize(struct vault_backup *vb, struct blob_ctx *c, uint64_t s);

/* 2 * nworkers + 4 batches on the free list. */
int backup_alloc_batches(struct vault_backup *vb);
int backup_start_threads(struct vault_backup *vb);
/* Stops and joins the workers; safe when none started. */
void backup_stop_threads(struct vault_backup *vb);

#endif
