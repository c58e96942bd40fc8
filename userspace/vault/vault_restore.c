// SPDX-License-Identifier: GPL-2.0
/*
 * The restore engine.  The image is cut into units of up to RUN_BYTES
 * within one segment.  Workers take units in order, read their runs of
 * blobs (one request per run stored back to back) and decrypt them into
 * the unit's slot of a ring; the calling thread writes the slots to the
 * target in image order, so the target is written sequentially while the
 * workers decrypt up to RING_PER_WORKER units per worker ahead.  Data goes
 * around the page cache (pwrite_direct): a restored image is not read
 * back soon, and filling page-cache pages costs more than the device
 * write on the hosts measured (docs/performance.md, issue 18).
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/source.h"
#include "vault/vault_blob.h"
#include "vault/vault_index.h"
#include "vault/vault_escrow.h"
#include "vault/vault_pack.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

#define RUN_BYTES	(8U << 20)
#define MAX_THREADS	16
#define RING_PER_WORKER	2

/* What a unit's chunk is, for the writer. */
enum { CH_DATA, CH_ZERO, CH_BAD };

struct slot {
	uint64_t unit;			/* unit it holds or is filled for */
	int done;			/* filled: the writer may take it */
	uint8_t *buf;			/* the unit's chunks, decrypted */
	uint8_t *kind;			/* CH_* per chunk */
};

struct restore {
	struct vault *v;
	struct bindex *bi;
	const struct manifest *m;
	const struct vault_restore_opts *o;
	struct vault_restore_result *res;
	uint64_t nchunks;		/* chunks to restore, from chunk 0 */
	uint32_t run_chunks;		/* chunks per unit */
	uint32_t units_per_seg;
	uint64_t nunits;
	pthread_mutex_t mu;		/* guards below and res */
	pthread_cond_t cond;		/* a slot filled or freed */
	uint64_t next_unit;		/* next unit a worker takes */
	uint64_t written;		/* units the writer is done with */
	struct slot *ring;
	unsigned int nring;
	int stop;
	int zeroout;			/* BLKZEROOUT still worth trying */
};

struct rworker {
	struct restore *rs;
	struct blob_ctx c;
	uint64_t seg;			/* segment in ids, or UINT64_MAX */
	int seg_err;
	seg_id_t *ids;
	uint8_t *rbuf, *obuf;		/* obuf: the slot being filled */
	struct bloc *locs;
	char (*names)[80];
};

static void note_bad(struct restore *rs, uint64_t chunk, uint64_t n, int err)
{
	pthread_mutex_lock(&rs->mu);
	if (!rs->res->chunks_bad || chunk < rs->res->first_bad_chunk) {
		rs->res->first_bad_chunk = chunk;
		rs->res->first_err = err;
	}
	rs->res->chunks_bad += n;
	if (!rs->o->keep_going)
		rs->stop = 1;
	pthread_cond_broadcast(&rs->cond);
	pthread_mutex_unlock(&rs->mu);
}

static int lookup(struct rworker *w, const uint8_t *id, struct bloc *loc, char *name)
{
	int r = vault_blob_locate(w->rs->bi, id, loc, name);

	if (r < 0)
		return r;
	return loc->type == BLOB_DATA ? 0 : -EUCLEAN;
}

static int open_chunk(struct rworker *w, const uint8_t *id, const uint8_t *in,
		      const struct bloc *loc, uint32_t want, uint8_t *out)
{
	uint8_t check[32];
	int r;

	if (loc->len != want + BLOB_OVERHEAD)
		return -EBADMSG;
	r = blob_open(&w->c, BLOB_DATA, id, in, loc->len, out);
	if (r || !w->rs->o->check_ids)
		return r;
	r = blob_id(&w->c, BLOB_DATA, out, want, check);
	return r ? r : memcmp(check, id, 32) ? -EBADMSG : 0;
}

/*
 * Chunks [c, c+n) of the image, ids at w->ids[i..], stored as one run of
 * a pack (contiguous()), read with one request and decrypted to out (the
 * unit's slot at chunk c).  Each blob is taken at its own offset: record
 * headers between them are read and skipped.
 */
static int do_run(struct rworker *w, uint64_t c, uint32_t i, uint32_t n, uint8_t *out)
{
	const struct manifest *m = w->rs->m;
	uint64_t rlen = (uint64_t)w->locs[i + n - 1].off + w->locs[i + n - 1].len -
			w->locs[i].off;
	const uint8_t *in;
	uint32_t k;
	size_t opos = 0;
	int r;

	/* Lengths first: the index is not trusted to fit the read buffer. */
	for (k = 0; k < n; k++)
		if (w->locs[i + k].len != chunk_len(m->chunk_size, m->image_size, c + k) +
					  BLOB_OVERHEAD)
			return -EBADMSG;
	r = backend_get_range_aligned(w->rs->v->be, w->names[i], w->locs[i].off, w->rbuf,
				      rlen);
	if (r < 0)
		return r;
	in = w->rbuf + r;
	for (r = 0, k = 0; !r && k < n; k++) {
		uint32_t want = chunk_len(m->chunk_size, m->image_size, c + k);

		r = open_chunk(w, w->ids[i + k], in + (w->locs[i + k].off - w->locs[i].off),
			       &w->locs[i + k], want, out + opos);
		opos += want;
	}
	return r;
}

/*
 * b follows a in the same pack: right after it (pack format 1) or after
 * one record header (format 2, vault_pack.h).  The read buffer holds a
 * unit's blobs with their headers (worker_init).
 */
static int contiguous(struct rworker *w, uint32_t a, uint32_t b)
{
	uint64_t end = w->locs[a].off + (uint64_t)w->locs[a].len;

	return !strcmp(w->names[a], w->names[b]) && w->locs[b].off >= end &&
	       w->locs[b].off - end <= PACK_REC_LEN;
}

/* Ends the run at i: same pack, one after another, within the unit [.., e). */
static uint32_t run_end(struct rworker *w, uint32_t i, uint32_t e)
{
	uint32_t j = i + 1;

	while (j < e && !seg_is_zero_id(w->ids[j]) &&
	       !lookup(w, w->ids[j], &w->locs[j], w->names[j]) && contiguous(w, j - 1, j))
		j++;
	return j;
}

/*
 * The data chunk at segment index i (and the run it starts, unless
 * single); base is the segment's first chunk, u0 the unit's first index,
 * e the unit's end.  Bad chunks are marked CH_BAD in kind.
 */
static int do_data(struct rworker *w, uint64_t base, uint32_t u0, uint32_t i,
		   uint32_t e, uint8_t *kind, uint32_t *next, int single)
{
	size_t cs = w->rs->m->chunk_size;
	int r = lookup(w, w->ids[i], &w->locs[i], w->names[i]);
	uint32_t j, k;

	*next = i + 1;
	if (r < 0) {
		kind[i - u0] = CH_BAD;
		note_bad(w->rs, base + i, 1, r);
		return r;
	}
	j = single ? i + 1 : run_end(w, i, e);
	r = do_run(w, base + i, i, j - i, w->obuf + (i - u0) * cs);
	if (r < 0 && j - i == 1) {
		kind[i - u0] = CH_BAD;
		note_bad(w->rs, base + i, 1, r);
	}
	/* Find out exactly which chunks of a bad run are bad. */
	for (k = i; r < 0 && j - i > 1 && k < j; k++) {
		uint32_t dummy;

		do_data(w, base, u0, k, e, kind, &dummy, 1);
	}
	*next = j;
	return r;
}

/* Unit u: segment, first index in it and chunk count. */
static void unit_range(const struct restore *rs, uint64_t u, uint64_t *s, uint32_t *i0,
		       uint32_t *n)
{
	uint64_t base, end;

	*s = u / rs->units_per_seg;
	*i0 = (uint32_t)(u % rs->units_per_seg) * rs->run_chunks;
	base = *s * rs->m->seg_chunks + *i0;
	end = MIN(base + rs->run_chunks,
		  MIN((uint64_t)*s * rs->m->seg_chunks + manifest_seg_len(rs->m, *s),
		      rs->nchunks));
	*n = end > base ? (uint32_t)(end - base) : 0;
}

static void do_unit(struct rworker *w, uint64_t u, uint8_t *kind)
{
	struct restore *rs = w->rs;
	uint64_t s, base;
	uint32_t i0, n, i, e;
	int r;

	unit_range(rs, u, &s, &i0, &n);
	base = s * rs->m->seg_chunks;
	e = i0 + n;
	memset(kind, CH_DATA, n);
	if (w->seg != s) {
		w->seg = s;
		w->seg_err = vault_seg_load(rs->v, rs->bi, &w->c, rs->m, s, w->ids);
	}
	if (w->seg_err < 0) {
		memset(kind, CH_BAD, n);
		note_bad(rs, base + i0, n, w->seg_err);
		return;
	}
	for (i = i0; i < e && !rs->stop;) {
		if (seg_is_zero_id(w->ids[i])) {
			kind[i - i0] = CH_ZERO;
			i++;
			continue;
		}
		r = do_data(w, base, i0, i, e, kind, &i, 0);
		(void)r;	/* counted by note_bad */
	}
	for (; i < e; i++)
		kind[i - i0] = CH_BAD;	/* stopped: never written */
}

/* Takes the next unit and waits for its slot; NULL when done or stopped. */
static struct slot *take_unit(struct restore *rs, uint64_t *u)
{
	struct slot *sl = NULL;

	pthread_mutex_lock(&rs->mu);
	if (!rs->stop && rs->next_unit < rs->nunits) {
		*u = rs->next_unit++;
		while (*u >= rs->written + rs->nring && !rs->stop)
			pthread_cond_wait(&rs->cond, &rs->mu);
		/* Stopped: the writer takes nothing more, the slot stays. */
		if (!rs->stop) {
			sl = &rs->ring[*u % rs->nring];
			sl->unit = *u;
			sl->done = 0;
		}
	}
	pthread_mutex_unlock(&rs->mu);
	return sl;
}

static void *restore_main(void *arg)
{
	struct rworker *w = arg;
	struct restore *rs = w->rs;
	struct slot *sl;
	uint64_t u;

	while ((sl = take_unit(rs, &u))) {
		w->obuf = sl->buf;
		do_unit(w, u, sl->kind);
		pthread_mutex_lock(&rs->mu);
		sl->done = 1;
		pthread_cond_broadcast(&rs->cond);
		pthread_mutex_unlock(&rs->mu);
	}
	return NULL;
}

/* Zeros [off, off+len) of the target: BLKZEROOUT where the target takes
 * it (a block device: the device may unmap), else written zeros. */
static int write_zeros(struct restore *rs, uint64_t off, uint64_t len, const uint8_t *zero)
{
	int r;

	if (rs->o->target_zeroed)
		return 0;
	if (rs->zeroout) {
		r = image_zero_range(rs->o->fd, off, len);
		if (!r) {
			rs->res->bytes_zeroout += len;
			return 0;
		}
		if (r != -EOPNOTSUPP && r != -ENOTTY && r != -EINVAL)
			return r;
		rs->zeroout = 0;
	}
	rs->res->bytes_zero_written += len;
	while (len) {
		size_t n = (size_t)MIN(len, (uint64_t)RUN_BYTES);

		r = pwrite_full(rs->o->fd, zero, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* Writes a filled unit: runs of data in one write, zeros, bad skipped. */
static int write_unit(struct restore *rs, struct slot *sl, const uint8_t *zero)
{
	size_t cs = rs->m->chunk_size;
	uint64_t s, c0;
	uint32_t i0, n, i = 0, j;
	int r = 0;

	unit_range(rs, sl->unit, &s, &i0, &n);
	c0 = s * rs->m->seg_chunks + i0;
	while (!r && i < n) {
		uint64_t off = (c0 + i) * cs, len;

		for (j = i; j < n && sl->kind[j] == sl->kind[i]; j++)
			;
		len = MIN((c0 + j) * cs, rs->m->image_size) - off;
		if (sl->kind[i] == CH_DATA)
			r = pwrite_direct(rs->o->fd, sl->buf + (size_t)i * cs, (size_t)len, off);
		else if (sl->kind[i] == CH_ZERO)
			r = write_zeros(rs, off, len, zero);
		i = j;
	}
	return r;
}

/* The calling thread: slots in image order to the target. */
static int write_all(struct restore *rs, const uint8_t *zero)
{
	uint64_t u;
	int r = 0;

	for (u = 0; u < rs->nunits; u++) {
		struct slot *sl = &rs->ring[u % rs->nring];
		int stopped;

		/* A stop fails the restore: nothing more is written. */
		pthread_mutex_lock(&rs->mu);
		while (!(sl->done && sl->unit == u) && !rs->stop)
			pthread_cond_wait(&rs->cond, &rs->mu);
		stopped = rs->stop;
		pthread_mutex_unlock(&rs->mu);
		if (stopped)
			break;
		if (rs->o->fd >= 0)
			r = write_unit(rs, sl, zero);
		pthread_mutex_lock(&rs->mu);
		if (r < 0)
			rs->stop = 1;
		rs->written = u + 1;
		pthread_cond_broadcast(&rs->cond);
		pthread_mutex_unlock(&rs->mu);
		if (r < 0)
			break;
		__atomic_store_n(&rs->res->bytes_done,
				 MIN((u + 1) * rs->run_chunks * rs->m->chunk_size,
				     rs->m->image_size), __ATOMIC_RELAXED);
	}
	return r;
}

static int worker_init(struct rworker *w, struct restore *rs)
{
	uint32_t sc = rs->m->seg_chunks;

	memset(w, 0, sizeof(*w));
	w->rs = rs;
	w->seg = UINT64_MAX;
	w->ids = malloc((size_t)sc * SEG_ID_LEN);
	w->locs = malloc((size_t)sc * sizeof(*w->locs));
	w->names = malloc((size_t)sc * sizeof(*w->names));
	/* Aligned, with slack: the local backend reads runs with O_DIRECT. */
	if (posix_memalign((void **)&w->rbuf, 4096,
			   (size_t)rs->run_chunks *
			   (rs->m->chunk_size + BLOB_OVERHEAD + PACK_REC_LEN) +
			   BACKEND_ALIGN_SLACK))
		w->rbuf = NULL;
	if (!w->ids || !w->locs || !w->names || !w->rbuf)
		return -ENOMEM;
	return blob_ctx_init(&w->c, rs->v);
}

static void worker_free(struct rworker *w)
{
	free(w->ids);
	free(w->locs);
	free(w->names);
	free(w->rbuf);
	blob_ctx_free(&w->c);
}

static int ring_alloc(struct restore *rs, unsigned int n)
{
	size_t len = (size_t)rs->run_chunks * rs->m->chunk_size;
	unsigned int i;

	rs->nring = n * RING_PER_WORKER + 1;
	rs->ring = calloc(rs->nring, sizeof(*rs->ring));
	if (!rs->ring)
		return -ENOMEM;
	for (i = 0; i < rs->nring; i++) {
		rs->ring[i].unit = UINT64_MAX;
		/* Aligned: written around the page cache (pwrite_direct). */
		if (posix_memalign((void **)&rs->ring[i].buf, 4096, len))
			rs->ring[i].buf = NULL;
		rs->ring[i].kind = malloc(rs->run_chunks);
		if (!rs->ring[i].buf || !rs->ring[i].kind)
			return -ENOMEM;
	}
	return 0;
}

static void ring_free(struct restore *rs)
{
	unsigned int i;

	for (i = 0; rs->ring && i < rs->nring; i++) {
		free(rs->ring[i].buf);
		free(rs->ring[i].kind);
	}
	free(rs->ring);
}

static void stop_all(struct restore *rs)
{
	pthread_mutex_lock(&rs->mu);
	rs->stop = 1;
	pthread_cond_broadcast(&rs->cond);
	pthread_mutex_unlock(&rs->mu);
}

static int run_workers(struct restore *rs, unsigned int n)
{
	struct rworker w[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	unsigned int i, started = 0;
	uint8_t *zero = calloc(1, RUN_BYTES);
	int r = zero ? ring_alloc(rs, n) : -ENOMEM;

	for (i = 0; !r && i < n; i++) {
		r = worker_init(&w[i], rs);
		if (!r && pthread_create(&t[i], NULL, restore_main, &w[i]))
			r = -EAGAIN;
		if (!r)
			started++;
		else
			worker_free(&w[i]);
	}
	if (r < 0)
		stop_all(rs);
	else
		r = write_all(rs, zero);
	if (r < 0)
		stop_all(rs);
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		worker_free(&w[i]);
	}
	ring_free(rs);
	free(zero);
	return r;
}

int vault_restore_run(struct vault *v, struct bindex *bi, const struct manifest *m,
		      const struct vault_restore_opts *o,
		      struct vault_restore_result *res)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct restore rs = {
		.v = v, .bi = bi, .m = m, .o = o, .res = res,
		.zeroout = o->zero_blkdev,
	};
	unsigned int n = o->threads ? o->threads : (unsigned int)MAX(ncpu, 1L);
	uint64_t end = o->limit ? MIN(o->limit, m->image_size) : m->image_size;
	int r;

	memset(res, 0, sizeof(*res));
	rs.run_chunks = MIN(MAX(1U, RUN_BYTES / m->chunk_size), m->seg_chunks);
	rs.units_per_seg = (m->seg_chunks + rs.run_chunks - 1) / rs.run_chunks;
	rs.nchunks = (end + m->chunk_size - 1) / m->chunk_size;
	rs.nunits = (rs.nchunks + m->seg_chunks - 1) / m->seg_chunks * rs.units_per_seg;
	pthread_mutex_init(&rs.mu, NULL);
	pthread_cond_init(&rs.cond, NULL);
	r = run_workers(&rs, MIN(n, (unsigned int)MAX_THREADS));
	pthread_cond_destroy(&rs.cond);
	pthread_mutex_destroy(&rs.mu);
	if (res->chunks_bad)
		return o->keep_going ? -EBADMSG : res->first_err;
	if (r < 0)
		return r;
	res->bytes_done = MIN(rs.nchunks * m->chunk_size, m->image_size);
	return 0;
}

int vault_restore_head(struct vault *v, struct bindex *bi, const struct manifest *m,
		       uint8_t *out, size_t len)
{
	struct vault_restore_opts o = { .check_ids = 1, .limit = len, .threads = 1 };
	struct vault_restore_result res;
	int r;

	if (!len || len > m->image_size)
		return -EINVAL;
	o.fd = memfd_create("cryptsnap-head", MFD_CLOEXEC);
	if (o.fd < 0)
		return -errno;
	r = vault_restore_run(v, bi, m, &o, &res);
	if (!r)
		r = pread_full(o.fd, out, len, 0);
	close(o.fd);
	return r;
}

int vault_restore_image_slot(struct vault *v, struct bindex *bi, const struct manifest *m,
			     const struct escrow_slot *e, uint8_t *out, size_t len)
{
	int r = vault_restore_head(v, bi, m, out, len);

	return r ? r : escrow_image_check(e, out, len);
}

int vault_restore_escrow(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			 const struct manifest *m, const struct escrow_slot *e,
			 uint8_t **data, size_t *len)
{
	uint64_t n;
	uint8_t *buf;
	int r;

	if (e->kind != ESCROW_IMAGE)
		return escrow_open(v, c, m->id, e, data, len);
	r = escrow_image_len(e, &n);
	if (r)
		return r;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	r = vault_restore_image_slot(v, bi, m, e, buf, n);
	if (r) {
		free(buf);
		return r;
	}
	*data = buf;
	*len = n;
	return 0;
}

void vault_restore_escrow_free(const struct escrow_slot *e, uint8_t *data, size_t len)
{
	if (e->kind != ESCROW_IMAGE) {
		secmem_free(data);
		return;
	}
	secmem_wipe(data, len);
	free(data);
}
