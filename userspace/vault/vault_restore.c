// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault_blob.h"
#include "vault/vault_escrow.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

#define RUN_BYTES	(8U << 20)
#define MAX_THREADS	16

struct restore {
	struct vault *v;
	struct bindex *bi;
	const struct manifest *m;
	const struct vault_restore_opts *o;
	struct vault_restore_result *res;
	uint64_t nchunks;		/* chunks to restore, from chunk 0 */
	pthread_mutex_t mu;
	uint64_t next_seg;
	int stop;
	uint32_t run_chunks;
};

struct rworker {
	struct restore *rs;
	struct blob_ctx c;
	seg_id_t *ids;
	uint8_t *rbuf, *obuf;
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
	pthread_mutex_unlock(&rs->mu);
}

static int lookup(struct rworker *w, const uint8_t *id, struct bloc *loc, char *name)
{
	struct bindex *bi = w->rs->bi;
	int found;

	pthread_mutex_lock(&bi->mu);
	found = bindex_get(bi, id, loc) && loc->pack != BLOC_PENDING;
	if (found)
		bindex_pack_name(bi->packs[loc->pack], name, 80);
	pthread_mutex_unlock(&bi->mu);
	if (!found)
		return -ENOENT;
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

/* Chunks [c, c+n) of the image, ids at w->ids[i..], stored contiguously. */
static int do_run(struct rworker *w, uint64_t c, uint32_t i, uint32_t n)
{
	const struct manifest *m = w->rs->m;
	uint64_t rlen = (uint64_t)w->locs[i + n - 1].off + w->locs[i + n - 1].len -
			w->locs[i].off;
	uint32_t k;
	size_t opos = 0, rpos = 0;
	int r;

	r = backend_get_range(w->rs->v->be, w->names[i], w->locs[i].off, w->rbuf, rlen);
	for (k = 0; !r && k < n; k++) {
		uint32_t want = chunk_len(m->chunk_size, m->image_size, c + k);

		r = open_chunk(w, w->ids[i + k], w->rbuf + rpos, &w->locs[i + k], want,
			       w->obuf + opos);
		rpos += w->locs[i + k].len;
		opos += want;
	}
	if (!r && w->rs->o->fd >= 0)
		r = pwrite_full(w->rs->o->fd, w->obuf, opos, c * m->chunk_size);
	return r;
}

static int zero_run(struct rworker *w, uint64_t c, uint32_t n)
{
	const struct manifest *m = w->rs->m;
	uint64_t off = c * m->chunk_size, end = MIN(off + (uint64_t)n * m->chunk_size,
						    m->image_size);

	if (w->rs->o->fd < 0 || w->rs->o->target_zeroed)
		return 0;
	memset(w->obuf, 0, MIN(end - off, (uint64_t)RUN_BYTES));
	while (off < end) {
		size_t len = (size_t)MIN(end - off, (uint64_t)RUN_BYTES);
		int r = pwrite_full(w->rs->o->fd, w->obuf, len, off);

		if (r < 0)
			return r;
		off += len;
	}
	return 0;
}

static int contiguous(struct rworker *w, uint32_t a, uint32_t b)
{
	return !strcmp(w->names[a], w->names[b]) &&
	       w->locs[a].off + (uint64_t)w->locs[a].len == w->locs[b].off;
}

/* Ends the run at i: same pack, back to back, not too long. */
static uint32_t run_end(struct rworker *w, uint32_t i, uint32_t n)
{
	uint32_t j = i + 1;

	while (j < n && j - i < w->rs->run_chunks && !seg_is_zero_id(w->ids[j]) &&
	       !lookup(w, w->ids[j], &w->locs[j], w->names[j]) && contiguous(w, j - 1, j))
		j++;
	return j;
}

static int do_data(struct rworker *w, uint64_t base, uint32_t i, uint32_t *next,
		   int single)
{
	uint32_t n = (uint32_t)MIN((uint64_t)manifest_seg_len(w->rs->m, base / w->rs->m->seg_chunks),
				   w->rs->nchunks - base), j, k;
	int r = lookup(w, w->ids[i], &w->locs[i], w->names[i]);

	*next = i + 1;
	if (r < 0) {
		note_bad(w->rs, base + i, 1, r);
		return r;
	}
	j = single ? i + 1 : run_end(w, i, n);
	r = do_run(w, base + i, i, j - i);
	if (r < 0 && j - i == 1)
		note_bad(w->rs, base + i, 1, r);
	/* Find out exactly which chunks of a bad run are bad. */
	for (k = i; r < 0 && j - i > 1 && k < j; k++) {
		uint32_t dummy;

		do_data(w, base, k, &dummy, 1);
	}
	*next = j;
	return r;
}

static int do_segment(struct rworker *w, uint64_t s)
{
	struct restore *rs = w->rs;
	uint64_t base = s * rs->m->seg_chunks;
	uint32_t n = (uint32_t)MIN((uint64_t)manifest_seg_len(rs->m, s), rs->nchunks - base);
	uint32_t i = 0, j;
	int r, err = 0;

	r = vault_seg_load(rs->v, rs->bi, &w->c, rs->m, s, w->ids);
	if (r < 0) {
		note_bad(rs, base, n, r);
		return r;
	}
	while (i < n && !rs->stop) {
		if (seg_is_zero_id(w->ids[i])) {
			for (j = i; j < n && seg_is_zero_id(w->ids[j]); j++)
				;
			r = zero_run(w, base + i, j - i);
			if (r < 0)
				note_bad(rs, base + i, j - i, r);
			i = j;
		} else {
			r = do_data(w, base, i, &i, 0);
		}
		if (r < 0 && !err)
			err = r;
		__atomic_store_n(&rs->res->bytes_done, (base + i) * rs->m->chunk_size,
				 __ATOMIC_RELAXED);
	}
	return err;
}

static void *restore_main(void *arg)
{
	struct rworker *w = arg;
	struct restore *rs = w->rs;

	for (;;) {
		uint64_t s;

		pthread_mutex_lock(&rs->mu);
		s = rs->next_seg++;
		pthread_mutex_unlock(&rs->mu);
		if (s >= rs->m->nsegs || s * rs->m->seg_chunks >= rs->nchunks || rs->stop)
			break;
		do_segment(w, s);
	}
	return NULL;
}

static int worker_init(struct rworker *w, struct restore *rs)
{
	uint32_t sc = rs->m->seg_chunks;

	memset(w, 0, sizeof(*w));
	w->rs = rs;
	w->ids = malloc((size_t)sc * SEG_ID_LEN);
	w->locs = malloc((size_t)sc * sizeof(*w->locs));
	w->names = malloc((size_t)sc * sizeof(*w->names));
	w->rbuf = malloc((size_t)rs->run_chunks * (rs->m->chunk_size + BLOB_OVERHEAD));
	w->obuf = malloc(MAX((size_t)rs->run_chunks * rs->m->chunk_size, (size_t)RUN_BYTES));
	if (!w->ids || !w->locs || !w->names || !w->rbuf || !w->obuf)
		return -ENOMEM;
	return blob_ctx_init(&w->c, rs->v);
}

static void worker_free(struct rworker *w)
{
	free(w->ids);
	free(w->locs);
	free(w->names);
	free(w->rbuf);
	free(w->obuf);
	blob_ctx_free(&w->c);
}

static int run_workers(struct restore *rs, unsigned int n)
{
	struct rworker w[MAX_THREADS];
	pthread_t t[MAX_THREADS];
	unsigned int i, started = 0;
	int r = 0;

	for (i = 0; !r && i < n; i++) {
		r = worker_init(&w[i], rs);
		if (!r && pthread_create(&t[i], NULL, restore_main, &w[i]))
			r = -EAGAIN;
		if (!r)
			started++;
		else
			worker_free(&w[i]);
	}
	if (r < 0) {
		pthread_mutex_lock(&rs->mu);
		rs->stop = 1;
		pthread_mutex_unlock(&rs->mu);
	}
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		worker_free(&w[i]);
	}
	return r;
}

int vault_restore_run(struct vault *v, struct bindex *bi, const struct manifest *m,
		      const struct vault_restore_opts *o,
		      struct vault_restore_result *res)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct restore rs = {
		.v = v, .bi = bi, .m = m, .o = o, .res = res,
		.run_chunks = MAX(1U, RUN_BYTES / m->chunk_size),
	};
	unsigned int n = o->threads ? o->threads : (unsigned int)MAX(ncpu, 1L);
	uint64_t end = o->limit ? MIN(o->limit, m->image_size) : m->image_size;
	int r;

	memset(res, 0, sizeof(*res));
	rs.nchunks = (end + m->chunk_size - 1) / m->chunk_size;
	pthread_mutex_init(&rs.mu, NULL);
	r = run_workers(&rs, MIN(n, (unsigned int)MAX_THREADS));
	pthread_mutex_destroy(&rs.mu);
	if (r < 0)
		return r;
	if (res->chunks_bad)
		return o->keep_going ? -EBADMSG : res->first_err;
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
