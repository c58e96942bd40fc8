// SPDX-License-Identifier: GPL-2.0
/*
 * The backup engine's API: begin (manifest, base point, index, threads),
 * submit (segments touched and closed in chunk order), seal, read back,
 * commit and free.  The threads behind it are in vault_backup_pipeline.c;
 * flow and locking in vault_backup_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault_backup_int.h"
#include "vault/vault_dek.h"
#include "vault/vault_escrow.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

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

/* Packs are gone: a base whose blobs were in them cannot stand in for the
 * chunks an incremental backup does not read (-ESTALE: back up in full). */
static int listed(const uint8_t *id, int is_seg, void *arg)
{
	return bindex_get(arg, id, NULL) ? 0 : -ESTALE;
}

static int base_intact(struct vault_backup *vb)
{
	int r = vault_point_walk(vb->v, &vb->bi, &vb->ctx, &vb->base, listed, &vb->bi, NULL);

	return r == -EUCLEAN ? -ESTALE : r;
}

/*
 * The new point's creation second.  Retention and listings order points
 * by their second, and points of one second only by their random id, so
 * a second backup of a disk started in the second its first one was
 * stored would be taken for the older one (prune --keep-last 1 could
 * keep the first).  When a point of the vault already carries this
 * second, wait for the next one: at most a second, only for backups that
 * follow each other that closely.  One check, one wait: a point stamped
 * in the future (a wrong clock, a vault writer) cannot hold a backup up.
 */
static int64_t point_second(struct vault *v)
{
	struct name_list ids = { 0 };
	int64_t now = time(NULL);
	char id[POINT_ID_MAX];
	int taken = 0;
	size_t i;

	make_time_id(now, id, sizeof(id));
	if (vault_point_ids(v, &ids) < 0)
		return now;
	for (i = 0; i < ids.n && !taken; i++)
		taken = !strncmp(ids.names[i], id, POINT_ID_SECOND_LEN);
	name_list_free(&ids);
	while (taken && time(NULL) == now) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000000L - ts.tv_nsec;
		nanosleep(&ts, NULL);
	}
	return time(NULL);
}

static int init_manifest(struct vault_backup *vb, const struct vault_backup_opts *o)
{
	struct manifest *m = &vb->m;

	if (!disk_name_valid(o->disk) || !o->image_size ||
	    o->image_size > MANIFEST_IMAGE_MAX || o->nescrow > MANIFEST_MAX_ESCROW)
		return -EINVAL;
	m->created = point_second(vb->v);
	make_time_id(m->created, m->id, sizeof(m->id));
	snprintf(m->disk, sizeof(m->disk), "%s", o->disk);
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

/*
 * Another backup's start may hold the exclusive lock for a moment (its
 * DEK use records are folded every DEK_USAGE_FOLD backups): wait up to
 * LOCK_WAIT_MS for it before refusing, so backups of several disks or
 * hosts started together all run.  GC, rotation or repair holding the
 * lock longer still refuse this backup.
 */
#define LOCK_WAIT_MS	2000
#define LOCK_WAIT_STEP_MS	100

static int lock_shared_patiently(struct vault *v)
{
	const struct timespec step = { 0, LOCK_WAIT_STEP_MS * 1000000L };
	int waited, r;

	for (waited = 0;; waited += LOCK_WAIT_STEP_MS) {
		r = vault_lock(v, VAULT_LOCK_SHARED);
		if (r != -EBUSY || waited >= LOCK_WAIT_MS)
			return r;
		nanosleep(&step, NULL);
	}
}

static int begin(struct vault_backup *vb, const struct vault_backup_opts *o)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int r, lost;

	vb->nworkers = o->threads ? o->threads : (unsigned int)MAX(ncpu, 1L);
	vb->nworkers = MIN(vb->nworkers, (unsigned int)MAX_WORKERS);
	vb->batch_chunks = MAX(1U, BATCH_BYTES / vb->v->chunk_size);
	r = init_manifest(vb, o);
	if (!r)
		r = blob_ctx_init(&vb->ctx, vb->v);
	if (!r && !vb->v->lock) {
		r = lock_shared_patiently(vb->v);
		vb->own_lock = !r;
	}
	if (!r)
		r = bindex_init(&vb->bi);
	if (!r)
		r = vault_index_load(vb->v, &vb->bi, NULL);
	if (!r)
		r = vault_index_drop_missing(vb->v, &vb->bi);
	lost = r > 0;
	r = MIN(r, 0);
	if (!r && o->base_point && *o->base_point)
		r = load_base(vb, o->base_point);
	if (!r && lost && vb->have_base)
		r = base_intact(vb);
	if (!r)
		r = pack_writer_init(&vb->pw, vb->v, &vb->bi, o->puts);
	if (!r)
		r = backup_alloc_batches(vb);
	if (!r)
		r = backup_start_threads(vb);
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
	/* A worn DEK is replaced before this backup seals with it. */
	r = vault_dek_before_backup(v);
	if (r < 0) {
		free(vb);
		return r;
	}
	vb->v = v;
	vb->opts = o;
	pthread_mutex_init(&vb->mu, NULL);
	pthread_cond_init(&vb->idle, NULL);
	pthread_cond_init(&vb->freeq.cond, NULL);
	pthread_cond_init(&vb->workq.cond, NULL);
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
	uint64_t t0 = backup_now_ns();
	struct batch *b;

	pthread_mutex_lock(&vb->mu);
	b = backup_q_pop(vb, &vb->freeq, 1);
	pthread_mutex_unlock(&vb->mu);
	backup_stage_add(vb, BACKUP_STAGE_READ_WAIT, &t0);
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
		backup_seg_release(vb, s, e - 1, ready, &nready);
		pthread_mutex_unlock(&vb->mu);
		for (i = 0; !r && i < nready; i++)
			r = backup_seg_finalize(vb, &vb->ctx, ready[i]);
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
	backup_q_push(&vb->workq, b);
	pthread_mutex_unlock(&vb->mu);
	return 0;
fail:
	if (b) {
		pthread_mutex_lock(&vb->mu);
		backup_q_push(&vb->freeq, b);
		pthread_mutex_unlock(&vb->mu);
	}
	if (r < 0)
		backup_set_err(vb, r);
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
	pthread_mutex_lock(&vb->pw.mu);
	st->stage_ns[BACKUP_STAGE_PUT] = vb->pw.put_ns;
	pthread_mutex_unlock(&vb->pw.mu);
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
	backup_stop_threads(vb);
	t0 = backup_now_ns();
	if (!r)
		r = vb->err;
	seg_untouched(vb);
	/* Order is the crash-safety contract: packs, index, manifest. */
	if (!r)
		r = pack_writer_commit(&vb->pw, &vb->ctx);
	if (!r)
		r = add_escrow(vb);
	backup_stage_add(vb, BACKUP_STAGE_COMMIT, &t0);
	if (r)
		backup_set_err(vb, r);
	else
		vb->sealed = 1;
	return r;
}

/* An image slot's bytes, from the stored image through a fresh index. */
static int open_image_slot(struct vault_backup *vb, const struct escrow_slot *e,
			   uint8_t *buf, size_t len)
{
	struct bindex bi;
	int r = bindex_init(&bi);

	if (r)
		return r;
	r = vault_index_load(vb->v, &bi, NULL);
	if (!r)
		r = vault_restore_image_slot(vb->v, &bi, &vb->m, e, buf, len);
	bindex_free(&bi);
	return r;
}

int vault_backup_open_escrow(struct vault_backup *vb, const char *name,
			     uint8_t **data, size_t *len)
{
	const struct escrow_slot *e = NULL;
	unsigned int i;
	uint64_t n = 0;
	uint8_t *buf;
	int r = 0;

	for (i = 0; vb->sealed && i < vb->m.nescrow; i++)
		if (!strcmp(vb->m.escrow[i].name, name))
			e = &vb->m.escrow[i];
	if (!e)
		return -ENOENT;
	if (e->kind == ESCROW_IMAGE)
		r = escrow_image_len(e, &n);
	else if (e->len < BLOB_OVERHEAD)
		r = -EBADMSG;
	else
		n = e->len - BLOB_OVERHEAD;
	if (r)
		return r;
	buf = secmem_alloc(MAX(n, (uint64_t)1));
	if (!buf)
		return -ENOMEM;
	r = e->kind == ESCROW_IMAGE ? open_image_slot(vb, e, buf, n) :
	    escrow_open_buf(vb->v, &vb->ctx, vb->m.id, e, buf);
	if (r) {
		secmem_free(buf);
		return r;
	}
	*data = buf;
	*len = n;
	return 0;
}

int vault_backup_commit(struct vault_backup *vb, char point_id[POINT_ID_MAX])
{
	uint64_t t0 = backup_now_ns();
	int r;

	if (!vb->sealed)
		return -EINVAL;
	fill_stats(vb);
	r = vault_point_save(vb->v, &vb->ctx, &vb->m);
	if (!r)
		snprintf(point_id, POINT_ID_MAX, "%s", vb->m.id);
	backup_stage_add(vb, BACKUP_STAGE_COMMIT, &t0);
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
	backup_set_err(vb, -ECANCELED);
	backup_stop_threads(vb);
	for (i = 0; vb->batches && i < vb->nbatches; i++) {
		free(vb->batches[i].in);
		free(vb->batches[i].blobs);
		free(vb->batches[i].lens);
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
