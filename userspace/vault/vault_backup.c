// SPDX-License-Identifier: GPL-2.0
/*
 * Backup pipeline.  A batch travels: free list -> caller fills -> work
 * queue -> a worker hashes, dedups and seals -> write queue -> the writer
 * appends the sealed blobs to the current pack -> free list.
 *
 * Locking: vb->mu guards the queues, segment states and the first error;
 * vb->bi.mu guards the blob index.  Segment id slots are written by the
 * worker owning the chunk without a lock: each chunk is in one batch.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault_backup.h"
#include "vault/vault_escrow.h"
#include "vault/vault_index.h"
#include "vault/vault_pack.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

#define BATCH_BYTES	(4U << 20)
#define MAX_WORKERS	16

enum { BATCH_CHUNKS, BATCH_SEG, BATCH_STOP };

struct batch {
	struct batch *next;
	int kind;
	uint64_t first;
	uint32_t n;
	uint8_t *in;			/* n chunks of plaintext */
	uint8_t *out;			/* sealed blobs back to back */
	size_t outlen;
	uint32_t nblobs;
	struct { uint8_t id[32]; uint32_t off, len; uint8_t type; } *blobs;
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
	pthread_t workers[MAX_WORKERS], writer;
	int threads_started;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	struct queue freeq, workq, writeq;
	struct batch *batches;
	unsigned int nbatches;
	uint32_t inflight;		/* batches submitted, not yet written */
	int err;
	struct vault_backup_stats st;
	const struct vault_backup_opts *opts;
};

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Adds the time since *t0 to stage k and restarts the clock. */
static void stage_add(struct vault_backup *vb, int k, uint64_t *t0)
{
	uint64_t t = mono_ns();

	__atomic_add_fetch(&vb->st.stage_ns[k], t - *t0, __ATOMIC_RELAXED);
	*t0 = t;
}

static void q_push(struct queue *q, struct batch *b)
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
static struct batch *q_pop(struct vault_backup *vb, struct queue *q, int stop_on_err)
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

static void set_err(struct vault_backup *vb, int err)
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

static int add_blob(struct vault_backup *vb, struct blob_ctx *c, struct batch *b,
		    const uint8_t *id, uint8_t type, const uint8_t *data, uint32_t len)
{
	int r = blob_seal(c, type, id, data, len, b->out + b->outlen);

	if (r < 0)
		return r;
	memcpy(b->blobs[b->nblobs].id, id, 32);
	b->blobs[b->nblobs].off = (uint32_t)b->outlen;
	b->blobs[b->nblobs].len = len + BLOB_OVERHEAD;
	b->blobs[b->nblobs].type = type;
	b->nblobs++;
	b->outlen += len + BLOB_OVERHEAD;
	__atomic_add_fetch(&vb->st.bytes_stored, len + BLOB_OVERHEAD, __ATOMIC_RELAXED);
	return 0;
}

static int do_chunk(struct vault_backup *vb, struct blob_ctx *c, struct batch *b,
		    uint32_t i)
{
	uint64_t cn = b->first + i;
	const uint8_t *data = b->in + (size_t)i * vb->v->chunk_size;
	uint32_t len = chunk_len(vb->v->chunk_size, vb->m.image_size, cn);
	seg_id_t *slot = &vb->segs[cn / vb->v->seg_chunks].ids[cn % vb->v->seg_chunks];
	uint8_t id[32];
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
	return add_blob(vb, c, b, id, BLOB_DATA, data, len);
}

/* Encodes and seals a finished segment; runs in whichever thread closed it. */
static int seg_finalize(struct vault_backup *vb, struct blob_ctx *c, uint64_t s)
{
	struct seg_state *ss = &vb->segs[s];
	uint32_t n = manifest_seg_len(&vb->m, s), i;
	struct batch *b;
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
		b = calloc(1, sizeof(*b));
		if (b) {
			b->kind = BATCH_SEG;
			b->out = malloc(len + BLOB_OVERHEAD);
			b->blobs = calloc(1, sizeof(*b->blobs));
		}
		if (!b || !b->out || !b->blobs) {
			free(enc);
			return -ENOMEM;
		}
		r = add_blob(vb, c, b, id, BLOB_SEG, enc, (uint32_t)len);
		pthread_mutex_lock(&vb->mu);
		vb->inflight++;
		q_push(&vb->writeq, b);
		pthread_mutex_unlock(&vb->mu);
	}
	free(enc);
out:
	free(ss->ids);
	ss->ids = NULL;
	return 0;
}

/* With vb->mu held: marks ready segments done and lists them in *ready. */
static void seg_release(struct vault_backup *vb, uint64_t from, uint64_t to,
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

static int process(struct vault_backup *vb, struct blob_ctx *c, struct batch *b)
{
	uint64_t s0 = b->first / vb->v->seg_chunks;
	uint64_t s1 = (b->first + b->n - 1) / vb->v->seg_chunks, s, ready[64];
	unsigned int nready = 0, i;
	int r = 0;

	b->outlen = 0;
	b->nblobs = 0;
	for (i = 0; !r && i < b->n; i++)
		r = do_chunk(vb, c, b, i);
	__atomic_add_fetch(&vb->st.bytes_done, (uint64_t)b->n * vb->v->chunk_size,
			   __ATOMIC_RELAXED);
	pthread_mutex_lock(&vb->mu);
	for (s = s0; s <= s1; s++)
		vb->segs[s].pending--;
	seg_release(vb, s0, s1, ready, &nready);
	q_push(&vb->writeq, b);
	pthread_mutex_unlock(&vb->mu);
	for (i = 0; !r && i < nready; i++)
		r = seg_finalize(vb, c, ready[i]);
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
		set_err(vb, r);
		return NULL;
	}
	for (;;) {
		uint64_t t0 = mono_ns();

		pthread_mutex_lock(&vb->mu);
		b = q_pop(vb, &vb->workq, 0);
		pthread_mutex_unlock(&vb->mu);
		stage_add(vb, BACKUP_STAGE_WORK_WAIT, &t0);
		if (b->kind == BATCH_STOP)
			break;
		r = process(vb, &c, b);
		if (r < 0)
			set_err(vb, r);
		stage_add(vb, BACKUP_STAGE_WORK, &t0);
	}
	free(b);
	blob_ctx_free(&c);
	return NULL;
}

static int write_batch(struct vault_backup *vb, struct batch *b)
{
	uint32_t i;
	int r = 0;

	for (i = 0; !r && i < b->nblobs; i++)
		r = pack_writer_add(&vb->pw, b->blobs[i].id, b->blobs[i].type,
				    b->out + b->blobs[i].off, b->blobs[i].len);
	return r;
}

static void *writer_main(void *arg)
{
	struct vault_backup *vb = arg;
	struct batch *b;
	int r;

	for (;;) {
		uint64_t t0 = mono_ns();

		pthread_mutex_lock(&vb->mu);
		b = q_pop(vb, &vb->writeq, 0);
		pthread_mutex_unlock(&vb->mu);
		stage_add(vb, BACKUP_STAGE_WRITE_WAIT, &t0);
		if (b->kind == BATCH_STOP)
			break;
		r = vb->err ? 0 : write_batch(vb, b);
		if (r < 0)
			set_err(vb, r);
		stage_add(vb, BACKUP_STAGE_WRITE, &t0);
		pthread_mutex_lock(&vb->mu);
		if (b->kind == BATCH_SEG) {
			free(b->out);
			free(b->blobs);
			free(b);
		} else {
			q_push(&vb->freeq, b);
		}
		vb->inflight--;
		pthread_cond_broadcast(&vb->idle);
		pthread_mutex_unlock(&vb->mu);
	}
	free(b);
	return NULL;
}

/*
 * Batch buffers are touched by a read, a hash, a seal and a copy per
 * chunk: back them with huge pages where the kernel allows (madvise mode)
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

static int alloc_batches(struct vault_backup *vb)
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
		b->out = batch_alloc(vb->batch_chunks * (cs + BLOB_OVERHEAD));
		b->blobs = calloc(vb->batch_chunks, sizeof(*b->blobs));
		if (!b->in || !b->out || !b->blobs)
			return -ENOMEM;
		q_push(&vb->freeq, b);
	}
	return 0;
}

static int start_threads(struct vault_backup *vb)
{
	unsigned int i;

	if (pthread_create(&vb->writer, NULL, writer_main, vb))
		return -EAGAIN;
	vb->threads_started = 1;
	for (i = 0; i < vb->nworkers; i++) {
		if (pthread_create(&vb->workers[i], NULL, worker_main, vb))
			return -EAGAIN;
		vb->threads_started = (int)i + 2;
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
	q_push(q, b);
	pthread_mutex_unlock(&vb->mu);
	return 0;
}

static void stop_threads(struct vault_backup *vb)
{
	int i, nw = vb->threads_started - 1;

	if (!vb->threads_started)
		return;
	for (i = 0; i < nw; i++)
		push_stop(&vb->workq, vb);
	for (i = 0; i < nw; i++)
		pthread_join(vb->workers[i], NULL);
	push_stop(&vb->writeq, vb);
	pthread_join(vb->writer, NULL);
	vb->threads_started = 0;
}

static int load_base(struct vault_backup *vb, const char *base)
{
	int r = vault_point_load(vb->v, &vb->ctx, base, &vb->base);

	if (r < 0)
		return r;
	/* A base of another size cannot stand in for unread chunks. */
	vb->have_base = vb->base.image_size == vb->m.image_size;
	snprintf(vb->m.base, sizeof(vb->m.base), "%s", base);
	return 0;
}

static int init_manifest(struct vault_backup *vb, const struct vault_backup_opts *o)
{
	struct manifest *m = &vb->m;

	if (!disk_name_valid(o->disk) || !o->image_size ||
	    o->image_size > MANIFEST_IMAGE_MAX || o->nescrow > MANIFEST_MAX_ESCROW)
		return -EINVAL;
	make_time_id(time(NULL), m->id, sizeof(m->id));
	snprintf(m->disk, sizeof(m->disk), "%s", o->disk);
	m->created = time(NULL);
	m->retain_until = o->retain_until;
	m->image_size = o->image_size;
	m->chunk_size = vb->v->chunk_size;
	m->seg_chunks = vb->v->seg_chunks;
	m->nsegs = manifest_segs_for(m->image_size, m->chunk_size, m->seg_chunks);
	m->segs = calloc(m->nsegs, SEG_ID_LEN);
	vb->segs = calloc(m->nsegs, sizeof(*vb->segs));
	if (!m->segs || !vb->segs)
		return -ENOMEM;
	vb->nchunks = manifest_nchunks(m);
	return 0;
}

static int begin(struct vault_backup *vb, const struct vault_backup_opts *o)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r;

	vb->nworkers = o->threads ? o->threads : (unsigned int)MAX(ncpu, 1L);
	vb->nworkers = MIN(vb->nworkers, (unsigned int)MAX_WORKERS);
	vb->batch_chunks = MAX(1U, BATCH_BYTES / vb->v->chunk_size);
	r = init_manifest(vb, o);
	if (!r)
		r = blob_ctx_init(&vb->ctx, vb->v);
	if (!r && !vb->v->lock) {
		r = vault_lock(vb->v, VAULT_LOCK_SHARED);
		vb->own_lock = !r;
	}
	if (!r)
		r = bindex_init(&vb->bi);
	if (!r)
		r = vault_index_load(vb->v, &vb->bi, NULL);
	if (!r && o->base_point && *o->base_point)
		r = load_base(vb, o->base_point);
	if (!r)
		r = pack_writer_init(&vb->pw, vb->v, &vb->bi);
	if (!r)
		r = alloc_batches(vb);
	if (!r)
		r = start_threads(vb);
	return r;
}

int vault_backup_begin(struct vault *v, const struct vault_backup_opts *o,
		       struct vault_backup **out)
{
	struct vault_backup *vb = calloc(1, sizeof(*vb));
	int r;

	if (!vb)
		return -ENOMEM;
	if (!v->keys) {
		free(vb);
		return -ENOKEY;
	}
	vb->v = v;
	vb->opts = o;
	pthread_mutex_init(&vb->mu, NULL);
	pthread_cond_init(&vb->idle, NULL);
	pthread_cond_init(&vb->freeq.cond, NULL);
	pthread_cond_init(&vb->workq.cond, NULL);
	pthread_cond_init(&vb->writeq.cond, NULL);
	r = begin(vb, o);
	if (r < 0) {
		vault_backup_free(vb);
		return r;
	}
	*out = vb;
	return 0;
}

uint32_t vault_backup_batch_chunks(const struct vault_backup *vb)
{
	return vb->batch_chunks;
}

uint8_t *vault_backup_buffer(struct vault_backup *vb)
{
	uint64_t t0 = mono_ns();
	struct batch *b;

	pthread_mutex_lock(&vb->mu);
	b = q_pop(vb, &vb->freeq, 1);
	pthread_mutex_unlock(&vb->mu);
	stage_add(vb, BACKUP_STAGE_READ_WAIT, &t0);
	return b ? b->in : NULL;
}

static struct batch *batch_of(struct vault_backup *vb, uint8_t *buf)
{
	unsigned int i;

	for (i = 0; i < vb->nbatches; i++)
		if (vb->batches[i].in == buf)
			return &vb->batches[i];
	return NULL;
}

/* Caller thread, vb->mu not held: base content for a first-touched segment. */
static int seg_touch(struct vault_backup *vb, uint64_t s)
{
	struct seg_state *ss = &vb->segs[s];

	if (ss->touched)
		return 0;
	ss->ids = calloc(vb->v->seg_chunks, SEG_ID_LEN);
	if (!ss->ids)
		return -ENOMEM;
	ss->touched = 1;
	if (vb->have_base)
		return vault_seg_load(vb->v, &vb->bi, &vb->ctx, &vb->base, s, ss->ids);
	return 0;
}

/* Closes segments [from, to) to further submissions. */
static int seg_close(struct vault_backup *vb, uint64_t from, uint64_t to)
{
	uint64_t ready[64], s;
	unsigned int nready = 0, i;
	int r = 0;

	for (s = from; !r && s < to; s += 64) {
		uint64_t e = MIN(s + 64, to);

		nready = 0;
		pthread_mutex_lock(&vb->mu);
		for (uint64_t k = s; k < e; k++)
			vb->segs[k].closed = 1;
		seg_release(vb, s, e - 1, ready, &nready);
		pthread_mutex_unlock(&vb->mu);
		for (i = 0; !r && i < nready; i++)
			r = seg_finalize(vb, &vb->ctx, ready[i]);
	}
	return r;
}

static int submit_checks(struct vault_backup *vb, struct batch *b, uint64_t first,
			 uint32_t n)
{
	if (!b || !n || n > vb->batch_chunks || first < vb->next_chunk ||
	    first + n > vb->nchunks)
		return -EINVAL;
	return vb->err;
}

int vault_backup_submit(struct vault_backup *vb, uint8_t *buf,
			uint64_t first, uint32_t n)
{
	struct batch *b = batch_of(vb, buf);
	uint64_t s0, s1, s;
	int r;

	r = submit_checks(vb, b, first, n);
	if (r)
		goto fail;
	s0 = first / vb->v->seg_chunks;
	s1 = (first + n - 1) / vb->v->seg_chunks;
	for (s = s0; !r && s <= s1; s++)
		r = seg_touch(vb, s);
	if (!r)
		r = seg_close(vb, vb->next_chunk / vb->v->seg_chunks, s0);
	if (r)
		goto fail;
	b->first = first;
	b->n = n;
	vb->next_chunk = first + n;
	pthread_mutex_lock(&vb->mu);
	for (s = s0; s <= s1; s++)
		vb->segs[s].pending++;
	vb->inflight++;
	q_push(&vb->workq, b);
	pthread_mutex_unlock(&vb->mu);
	return 0;
fail:
	if (b) {
		pthread_mutex_lock(&vb->mu);
		q_push(&vb->freeq, b);
		pthread_mutex_unlock(&vb->mu);
	}
	if (r < 0)
		set_err(vb, r);
	return r;
}

int vault_backup_set_meta(struct vault_backup *vb, const char *key, const char *val)
{
	return manifest_set_meta(&vb->m, key, val);
}

const uint64_t *vault_backup_progress(struct vault_backup *vb)
{
	return &vb->st.bytes_done;
}

void vault_backup_stats(struct vault_backup *vb, struct vault_backup_stats *st)
{
	int k;

	__atomic_load(&vb->st.bytes_done, &st->bytes_done, __ATOMIC_RELAXED);
	st->chunks_zero = __atomic_load_n(&vb->st.chunks_zero, __ATOMIC_RELAXED);
	st->chunks_new = __atomic_load_n(&vb->st.chunks_new, __ATOMIC_RELAXED);
	st->chunks_dedup = __atomic_load_n(&vb->st.chunks_dedup, __ATOMIC_RELAXED);
	st->bytes_new = __atomic_load_n(&vb->st.bytes_new, __ATOMIC_RELAXED);
	st->bytes_stored = __atomic_load_n(&vb->st.bytes_stored, __ATOMIC_RELAXED);
	for (k = 0; k < BACKUP_STAGES; k++)
		st->stage_ns[k] = __atomic_load_n(&vb->st.stage_ns[k], __ATOMIC_RELAXED);
}

/* Segments nobody submitted to keep the base's segment (or stay zero). */
static void seg_untouched(struct vault_backup *vb)
{
	uint64_t s;

	for (s = 0; s < vb->m.nsegs; s++)
		if (!vb->segs[s].touched && vb->have_base)
			memcpy(vb->m.segs[s], vb->base.segs[s], SEG_ID_LEN);
}

static int drain(struct vault_backup *vb)
{
	int r;

	pthread_mutex_lock(&vb->mu);
	while (vb->inflight && !vb->err)
		pthread_cond_wait(&vb->idle, &vb->mu);
	r = vb->err;
	pthread_mutex_unlock(&vb->mu);
	return r;
}

static int add_escrow(struct vault_backup *vb)
{
	const struct vault_backup_opts *o = vb->opts;
	unsigned int i;
	int r = 0;

	for (i = 0; !r && i < o->nescrow; i++) {
		r = escrow_seal(vb->v, &vb->ctx, vb->m.id, o->escrow[i].name,
				o->escrow[i].kind, o->escrow[i].data, o->escrow[i].len,
				&vb->m.escrow[i]);
		vb->m.nescrow = i + 1;
	}
	return r;
}

static void fill_stats(struct vault_backup *vb)
{
	vb->m.chunks_zero = vb->st.chunks_zero;
	vb->m.chunks_new = vb->st.chunks_new;
	vb->m.bytes_new = vb->st.bytes_new;
	vb->m.bytes_stored = vb->st.bytes_stored;
}

int vault_backup_seal(struct vault_backup *vb)
{
	uint64_t t0;
	int r;

	if (vb->sealed)
		return -EALREADY;
	r = vb->err;
	if (!r)
		r = seg_close(vb, 0, vb->m.nsegs);
	if (!r)
		r = drain(vb);
	stop_threads(vb);
	t0 = mono_ns();
	if (!r)
		r = vb->err;
	seg_untouched(vb);
	/* Order is the crash-safety contract: packs, index, manifest. */
	if (!r)
		r = pack_writer_commit(&vb->pw, &vb->ctx);
	if (!r)
		r = add_escrow(vb);
	stage_add(vb, BACKUP_STAGE_COMMIT, &t0);
	if (r)
		set_err(vb, r);
	else
		vb->sealed = 1;
	return r;
}

/*
 * The restore engine over a fresh copy of the vault's index: nothing of
 * this backup's memory (its index, its buffers) stands in for the stored
 * bytes.
 */
int vault_backup_read_back(struct vault_backup *vb, int fd, uint64_t limit)
{
	struct vault_restore_opts o = { .fd = fd, .check_ids = 1, .limit = limit };
	struct vault_restore_result res;
	struct bindex bi;
	int r;

	if (!vb->sealed)
		return -EINVAL;
	r = bindex_init(&bi);
	if (r)
		return r;
	r = vault_index_load(vb->v, &bi, NULL);
	if (!r)
		r = vault_restore_run(vb->v, &bi, &vb->m, &o, &res);
	bindex_free(&bi);
	return r;
}

int vault_backup_open_escrow(struct vault_backup *vb, const char *name,
			     uint8_t **data, size_t *len)
{
	const struct escrow_slot *e = NULL;
	unsigned int i;
	uint8_t *buf;
	int r;

	for (i = 0; vb->sealed && i < vb->m.nescrow; i++)
		if (!strcmp(vb->m.escrow[i].name, name))
			e = &vb->m.escrow[i];
	if (!e)
		return -ENOENT;
	if (e->len < BLOB_OVERHEAD)
		return -EBADMSG;
	buf = secmem_alloc(MAX(e->len - BLOB_OVERHEAD, (size_t)1));
	if (!buf)
		return -ENOMEM;
	r = escrow_open_buf(vb->v, &vb->ctx, vb->m.id, e, buf);
	if (r) {
		secmem_free(buf);
		return r;
	}
	*data = buf;
	*len = e->len - BLOB_OVERHEAD;
	return 0;
}

int vault_backup_commit(struct vault_backup *vb, char point_id[POINT_ID_MAX])
{
	uint64_t t0 = mono_ns();
	int r;

	if (!vb->sealed)
		return -EINVAL;
	fill_stats(vb);
	r = vault_point_save(vb->v, &vb->ctx, &vb->m);
	if (!r)
		snprintf(point_id, POINT_ID_MAX, "%s", vb->m.id);
	stage_add(vb, BACKUP_STAGE_COMMIT, &t0);
	return r;
}

int vault_backup_finish(struct vault_backup *vb, char point_id[POINT_ID_MAX])
{
	int r = vault_backup_seal(vb);

	return r ? r : vault_backup_commit(vb, point_id);
}

void vault_backup_free(struct vault_backup *vb)
{
	unsigned int i;
	uint64_t s;

	if (!vb)
		return;
	set_err(vb, -ECANCELED);
	stop_threads(vb);
	for (i = 0; vb->batches && i < vb->nbatches; i++) {
		free(vb->batches[i].in);
		free(vb->batches[i].out);
		free(vb->batches[i].blobs);
	}
	free(vb->batches);
	for (s = 0; vb->segs && s < vb->m.nsegs; s++)
		free(vb->segs[s].ids);
	free(vb->segs);
	pack_writer_free(&vb->pw);
	bindex_free(&vb->bi);
	manifest_free(&vb->m);
	manifest_free(&vb->base);
	blob_ctx_free(&vb->ctx);
	if (vb->own_lock)
		vault_lock_release(vb->v);
	free(vb);
}
