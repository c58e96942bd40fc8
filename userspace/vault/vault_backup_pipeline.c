// SPDX-License-Identifier: GPL-2.0
/*
 * The backup pipeline: batches, their queues, and the worker threads that
 * hash, dedup and seal chunks and segments straight into pack buffers.  The flow and the locking rules are in vault_backup_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "lib/util.h"
#include "vault/vault_backup_int.h"

uint64_t backup_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Adds the time since *t0 to stage k and restarts the clock. */
void backup_stage_add(struct vault_backup *vb, int k, uint64_t *t0)
{
	uint64_t t = backup_now_ns();

	__atomic_add_fetch(&vb->st.stage_ns[k], t - *t0, __ATOMIC_RELAXED);
	*t0 = t;
}

void backup_q_push(struct queue *q, struct batch *b)
{
	b->next = NULL;
	if (q->tail)
		q->tail->next = b;
	else
		q->head = b;
	q->tail = b;
	pthread_cond_signal(&q->cond);
}

/* Called with vb->mu held; NULL when an error stopped the pipeline. */
struct batch *backup_q_pop(struct vault_backup *vb, struct queue *q, int stop_on_err)
{
	struct batch *b;

	while (!q->head && !(stop_on_err && vb->err))
		pthread_cond_wait(&q->cond, &vb->mu);
	if (stop_on_err && vb->err && !q->head)
		return NULL;
	b = q->head;
	q->head = b->next;
	if (!q->head)
		q->tail = NULL;
	return b;
}

void backup_set_err(struct vault_backup *vb, int err)
{
	pthread_mutex_lock(&vb->mu);
	if (!vb->err)
		vb->err = err;
	pthread_cond_broadcast(&vb->freeq.cond);
	pthread_cond_broadcast(&vb->idle);
	pthread_mutex_unlock(&vb->mu);
}

/* Reserves id in the index; 1 when this caller must store the blob. */
static int claim(struct vault_backup *vb, const uint8_t *id, uint8_t type)
{
	struct bloc pending = { .pack = BLOC_PENDING, .type = type };
	int r;

	pthread_mutex_lock(&vb->bi.mu);
	r = bindex_put(&vb->bi, id, &pending, 0);
	pthread_mutex_unlock(&vb->bi.mu);
	return r;
}

/* Seals blob i of a run reserved in s (the pack buffer itself). */
static int seal_into(struct vault_backup *vb, struct blob_ctx *c, struct pack_slot *s,
		     const uint8_t *id, uint8_t type, const uint8_t *data, uint32_t len)
{
	uint8_t *env = pack_slot_next(s, id, type, len + BLOB_OVERHEAD);

	__atomic_add_fetch(&vb->st.bytes_stored, len + BLOB_OVERHEAD, __ATOMIC_RELAXED);
	return blob_seal(c, type, id, data, len, env);
}

/* Hashes chunk i, claims it; 1 when this batch must store it. */
static int do_chunk(struct vault_backup *vb, struct blob_ctx *c, struct batch *b,
		    uint32_t i)
{
	uint64_t cn = b->first + i;
	const uint8_t *data = b->in + (size_t)i * vb->v->chunk_size;
	uint32_t len = chunk_len(vb->v->chunk_size, vb->m.image_size, cn);
	seg_id_t *slot = &vb->segs[cn / vb->v->seg_chunks].ids[cn % vb->v->seg_chunks];
	uint8_t *id = b->blobs[b->nblobs].id;
	int r;

	if (buf_is_zero(data, len)) {
		memset(*slot, 0, SEG_ID_LEN);
		__atomic_add_fetch(&vb->st.chunks_zero, 1, __ATOMIC_RELAXED);
		return 0;
	}
	r = blob_id(c, BLOB_DATA, data, len, id);
	if (r < 0)
		return r;
	memcpy(*slot, id, SEG_ID_LEN);
	r = claim(vb, id, BLOB_DATA);
	if (r <= 0) {
		__atomic_add_fetch(&vb->st.chunks_dedup, 1, __ATOMIC_RELAXED);
		return r;
	}
	__atomic_add_fetch(&vb->st.chunks_new, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&vb->st.bytes_new, len, __ATOMIC_RELAXED);
	b->blobs[b->nblobs].off = i;
	b->blobs[b->nblobs].len = len + BLOB_OVERHEAD;
	b->nblobs++;
	return 0;
}

/* Seals the batch's new chunks into packs, runs of them back to back. */
static int seal_batch(struct vault_backup *vb, struct blob_ctx *c, struct batch *b,
		      uint64_t *t0)
{
	uint32_t i = 0, k, n;
	struct pack_slot s;
	int r = 0;

	while (!r && i < b->nblobs) {
		backup_stage_add(vb, BACKUP_STAGE_WORK, t0);
		r = pack_reserve(&vb->pw, b->lens + i, b->nblobs - i, &n, &s);
		backup_stage_add(vb, BACKUP_STAGE_PACK_WAIT, t0);
		if (r < 0)
			break;
		for (k = 0; !r && k < n; k++) {
			const struct blob_ref *br = &b->blobs[i + k];
			uint64_t cn = b->first + br->off;

			r = seal_into(vb, c, &s, br->id, BLOB_DATA,
				      b->in + (size_t)br->off * vb->v->chunk_size,
				      chunk_len(vb->v->chunk_size, vb->m.image_size, cn));
		}
		pack_release(&vb->pw, &s, r);
		i += n;
	}
	return r;
}

/* Encodes and seals a finished segment; runs in whichever thread closed it. */
int backup_seg_finalize(struct vault_backup *vb, struct blob_ctx *c, uint64_t s)
{
	struct seg_state *ss = &vb->segs[s];
	uint32_t n = manifest_seg_len(&vb->m, s), i;
	uint8_t *enc, id[32];
	size_t len;
	int r;

	for (i = 0; i < n && seg_is_zero_id(ss->ids[i]); i++)
		;
	if (i == n) {
		memset(vb->m.segs[s], 0, SEG_ID_LEN);
		goto out;
	}
	r = seg_encode(ss->ids, n, &enc, &len);
	if (!r)
		r = blob_id(c, BLOB_SEG, enc, len, id);
	if (r < 0)
		return r;
	memcpy(vb->m.segs[s], id, SEG_ID_LEN);
	if (claim(vb, id, BLOB_SEG) > 0) {
		uint32_t slen = (uint32_t)len + BLOB_OVERHEAD, granted;
		struct pack_slot sl;

		r = pack_reserve(&vb->pw, &slen, 1, &granted, &sl);
		if (!r) {
			r = seal_into(vb, c, &sl, id, BLOB_SEG, enc, (uint32_t)len);
			pack_release(&vb->pw, &sl, r);
		}
	}
	free(enc);
	if (r < 0)
		return r;
out:
	free(ss->ids);
	ss->ids = NULL;
	return 0;
}

/* With vb->mu held: marks ready segments done and lists them in *ready. */
void backup_seg_release(struct vault_backup *vb, uint64_t from, uint64_t to,
			uint64_t *ready, unsigned int *nready)
{
	uint64_t s;

	for (s = from; s <= to && s < vb->m.nsegs; s++) {
		struct seg_state *ss = &vb->segs[s];

		if (ss->touched && ss->closed && !ss->pending && !ss->done) {
			ss->done = 1;
			ready[(*nready)++] = s;
		}
	}
}

static int process(struct vault_backup *vb, struct blob_ctx *c, struct batch *b,
		   uint64_t *t0)
{
	uint64_t s0 = b->first / vb->v->seg_chunks;
	uint64_t s1 = (b->first + b->n - 1) / vb->v->seg_chunks, s, ready[64];
	unsigned int nready = 0, i;
	int r = 0;

	b->nblobs = 0;
	for (i = 0; !r && i < b->n; i++)
		r = do_chunk(vb, c, b, i);
	for (i = 0; i < b->nblobs; i++)
		b->lens[i] = b->blobs[i].len;
	if (!r)
		r = seal_batch(vb, c, b, t0);
	__atomic_add_fetch(&vb->st.bytes_done, (uint64_t)b->n * vb->v->chunk_size,
			   __ATOMIC_RELAXED);
	pthread_mutex_lock(&vb->mu);
	for (s = s0; s <= s1; s++)
		vb->segs[s].pending--;
	backup_seg_release(vb, s0, s1, ready, &nready);
	backup_q_push(&vb->freeq, b);
	vb->inflight--;
	pthread_cond_broadcast(&vb->idle);
	pthread_mutex_unlock(&vb->mu);
	for (i = 0; !r && i < nready; i++)
		r = backup_seg_finalize(vb, c, ready[i]);
	return r;
}

static void *worker_main(void *arg)
{
	struct vault_backup *vb = arg;
	struct blob_ctx c;
	struct batch *b;
	int r;

	r = blob_ctx_init(&c, vb->v);
	if (r < 0) {
		backup_set_err(vb, r);
		return NULL;
	}
	for (;;) {
		uint64_t t0 = backup_now_ns();

		pthread_mutex_lock(&vb->mu);
		b = backup_q_pop(vb, &vb->workq, 0);
		pthread_mutex_unlock(&vb->mu);
		backup_stage_add(vb, BACKUP_STAGE_WORK_WAIT, &t0);
		if (b->kind == BATCH_STOP)
			break;
		r = process(vb, &c, b, &t0);
		if (r < 0)
			backup_set_err(vb, r);
		backup_stage_add(vb, BACKUP_STAGE_WORK, &t0);
	}
	free(b);
	blob_ctx_free(&c);
	return NULL;
}

/*
 * Batch buffers are touched by a read, a hash and a seal per chunk: back them with huge pages where the kernel allows (madvise mode)
 * to save the 4 KiB page faults and TLB misses.
 */
static void *batch_alloc(size_t len)
{
	const size_t huge = 2U << 20;
	void *p;

	if (posix_memalign(&p, huge, len))
		return NULL;
	(void)madvise(p, len, MADV_HUGEPAGE);
	return p;
}

int backup_alloc_batches(struct vault_backup *vb)
{
	size_t cs = vb->v->chunk_size, i;

	vb->nbatches = 2 * vb->nworkers + 4;
	vb->batches = calloc(vb->nbatches, sizeof(*vb->batches));
	if (!vb->batches)
		return -ENOMEM;
	for (i = 0; i < vb->nbatches; i++) {
		struct batch *b = &vb->batches[i];

		b->kind = BATCH_CHUNKS;
		b->in = batch_alloc(vb->batch_chunks * cs);
		b->blobs = calloc(vb->batch_chunks, sizeof(*b->blobs));
		b->lens = calloc(vb->batch_chunks, sizeof(*b->lens));
		if (!b->in || !b->blobs || !b->lens)
			return -ENOMEM;
		backup_q_push(&vb->freeq, b);
	}
	return 0;
}

int backup_start_threads(struct vault_backup *vb)
{
	unsigned int i;

	for (i = 0; i < vb->nworkers; i++) {
		if (pthread_create(&vb->workers[i], NULL, worker_main, vb))
			return -EAGAIN;
		vb->threads_started = (int)i + 1;
	}
	return 0;
}

static int push_stop(struct queue *q, struct vault_backup *vb)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->kind = BATCH_STOP;
	pthread_mutex_lock(&vb->mu);
	backup_q_push(q, b);
	pthread_mutex_unlock(&vb->mu);
	return 0;
}

void backup_stop_threads(struct vault_backup *vb)
{
	int i, nw = vb->threads_started;

	for (i = 0; i < nw; i++)
		push_stop(&vb->workq, vb);
	for (i = 0; i < nw; i++)
		pthread_join(vb->workers[i], NULL);
	vb->threads_started = 0;
}
