// SPDX-License-Identifier: GPL-2.0
/*
 * point_reader (see point_reader.h).  Thread-safe: one mutex guards the
 * cache, held for lookups and copies but never while a chunk or segment
 * is fetched and decrypted.  A slot being filled is marked loading, so
 * no other thread evicts it and readers of the same chunk wait for it
 * instead of fetching it twice.  Each reader borrows a blob context
 * (HMAC and AES-GCM state) and a read buffer from a free list, grown to
 * the number of threads that ever read at once.
 *
 * Read-ahead: a miss fetches the chunk together with the chunks after it
 * that are stored right behind it in the same pack (a backup stores a
 * run of new chunks back to back), up to RUN_BYTES, with one backend
 * request.  A filesystem read through the mount touches the chunks of a
 * file in order, and the files of a directory sit close together, so the
 * next miss is usually already in the cache; on the local backend one
 * 1 MiB read costs about what one 64 KiB read does.  Each chunk of the
 * run is still authenticated on its own: one that fails is simply not
 * cached, and a read of it fetches it alone and fails by itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "store/backend.h"
#include "vault/point_reader.h"
#include "vault/vault_blob.h"
#include "vault/vault_index.h"
#include "vault/vault_pack.h"
#include "vault/vault_points.h"

#define SEG_SLOTS	4
#define MIN_SLOTS	4
#define EMPTY		UINT64_MAX
#define RUN_BYTES	(1U << 20)	/* read-ahead: at most this much per request */
#define RUN_MAX		16U		/* and at most this many chunks */

/* A cache slot: which chunk (or segment) it holds and when it was used. */
struct slot {
	uint64_t key;
	uint64_t used;
	uint8_t *data;
	int loading;		/* being filled outside the lock */
};

/* A blob context and read buffer not in use. */
struct pr_ctx {
	struct blob_ctx c;
	uint8_t *rbuf;		/* 4 KiB-aligned, pr->rbuf_len bytes */
	struct pr_ctx *next;
};

/* Chunks [ch, ch + n) being fetched with one request, into slots sl[]. */
struct run {
	uint64_t ch;
	unsigned int n;
	struct slot *sl[RUN_MAX];
	seg_id_t ids[RUN_MAX];
	struct bloc locs[RUN_MAX];
	char pack[80];
};

struct point_reader {
	struct vault *v;
	struct bindex *bi;
	const struct manifest *m;
	pthread_mutex_t mu;
	pthread_cond_t filled;	/* a slot stopped loading */
	struct pr_ctx *idle;
	struct slot *chunks, segs[SEG_SLOTS];
	unsigned int nchunks;
	unsigned int run_max;	/* chunks per fetch: 1 disables read-ahead */
	uint64_t seq_next;	/* the chunk after the last fetch */
	unsigned int seq_win;	/* that fetch's chunks */
	size_t rbuf_len;
	uint64_t tick;
	struct point_reader_stats st;
};

/*
 * The slot holding key (possibly still loading: *hit set either way), or
 * the least recently used slot that is not loading (EMPTY ones first), or
 * NULL when every slot is loading.
 */
static struct slot *find(struct slot *s, unsigned int n, uint64_t key, int *hit)
{
	struct slot *lru = NULL;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (s[i].key == key) {
			*hit = 1;
			return &s[i];
		}
		if (!s[i].loading && (!lru || s[i].used < lru->used))
			lru = &s[i];
	}
	*hit = 0;
	return lru;
}

/*
 * With pr->mu held: the slot holding key, found loaded (returns 0), or
 * claimed for this thread to fill (returns 1: marked loading, so nobody
 * evicts it and other readers of key wait for it).  Waits while every
 * slot is loading.
 */
static int claim(struct point_reader *pr, struct slot *s, unsigned int n, uint64_t key,
		 struct slot **out)
{
	struct slot *sl;
	int hit;

	for (;;) {
		sl = find(s, n, key, &hit);
		if (sl && !sl->loading)
			break;
		pthread_cond_wait(&pr->filled, &pr->mu);
	}
	*out = sl;
	if (hit) {
		sl->used = ++pr->tick;
		return 0;
	}
	sl->key = key;
	sl->loading = 1;
	return 1;
}

/* With pr->mu held: a claimed slot filled (ok) or given up. */
static void settle(struct point_reader *pr, struct slot *sl, int ok)
{
	sl->loading = 0;
	if (!ok)
		sl->key = EMPTY;
	sl->used = ok ? ++pr->tick : 0;
}

/* With pr->mu held: chunk ch's id, copied out of its segment. */
static int chunk_id(struct point_reader *pr, struct blob_ctx *c, uint64_t ch,
		    seg_id_t id)
{
	const struct manifest *m = pr->m;
	uint64_t seg = ch / m->seg_chunks;
	struct slot *sl;
	int r = 0;

	if (claim(pr, pr->segs, SEG_SLOTS, seg, &sl)) {
		pthread_mutex_unlock(&pr->mu);
		r = vault_seg_load(pr->v, pr->bi, c, m, seg, (seg_id_t *)sl->data);
		pthread_mutex_lock(&pr->mu);
		settle(pr, sl, !r);
		pthread_cond_broadcast(&pr->filled);
	}
	if (r < 0)
		return r;
	memcpy(id, ((const seg_id_t *)sl->data)[ch % m->seg_chunks], SEG_ID_LEN);
	return 0;
}

/* With pr->mu held: where chunk ch's blob is stored; 0 or -errno. */
static int chunk_loc(struct point_reader *pr, uint64_t ch, const seg_id_t id,
		     struct bloc *loc, char *pack)
{
	if (vault_blob_locate(pr->bi, id, loc, pack) < 0)
		return -EBADMSG;
	/* The index is not trusted to fit the slot. */
	if (loc->type != BLOB_DATA ||
	    loc->len != chunk_len(pr->m->chunk_size, pr->m->image_size, ch) + BLOB_OVERHEAD)
		return -EUCLEAN;
	return 0;
}

/*
 * With pr->mu held, chunk ch missing and its slot claimed as ru->sl[0]:
 * claims slots for the chunks after it that read-ahead may take with the
 * same request (same segment, not zero, not cached, stored right behind
 * the previous one in the same pack; pack format 2 puts one record
 * header between blobs).
 */
static void run_extend(struct point_reader *pr, struct run *ru)
{
	const struct manifest *m = pr->m;
	uint64_t seg = ru->ch / m->seg_chunks, nch = manifest_nchunks(m);
	char pack[80];
	int hit;

	unsigned int win = 1;

	/* A miss right where the last fetch ended is a sequential stream:
	 * double its window (as the kernel's read-ahead does); any other miss
	 * fetches its chunk alone, so scattered reads decrypt nothing extra. */
	if (ru->ch == pr->seq_next)
		win = MIN(2 * pr->seq_win, pr->run_max);
	while (ru->n < win) {
		uint64_t ch = ru->ch + ru->n, end;
		const struct bloc *prev = &ru->locs[ru->n - 1];
		struct slot *seg_sl, *sl;
		struct bloc loc;

		if (ch >= nch || ch / m->seg_chunks != seg)
			break;
		seg_sl = find(pr->segs, SEG_SLOTS, seg, &hit);
		if (!hit || seg_sl->loading)
			break;
		memcpy(ru->ids[ru->n], ((const seg_id_t *)seg_sl->data)[ch % m->seg_chunks],
		       SEG_ID_LEN);
		if (seg_is_zero_id(ru->ids[ru->n]))
			break;
		sl = find(pr->chunks, pr->nchunks, ch, &hit);
		if (hit || !sl || chunk_loc(pr, ch, ru->ids[ru->n], &loc, pack))
			break;
		end = (uint64_t)prev->off + prev->len;
		if (strcmp(pack, ru->pack) || loc.off < end || loc.off - end > PACK_REC_LEN)
			break;
		sl->key = ch;
		sl->loading = 1;
		ru->sl[ru->n] = sl;
		ru->locs[ru->n++] = loc;
	}
	pr->seq_next = ru->ch + ru->n;
	pr->seq_win = ru->n;
}

/*
 * Without the lock: fetches the run with one request and opens each
 * chunk into its slot; res[k] is chunk k's result.  Returns the result
 * of the request itself.
 */
static int run_fetch(struct point_reader *pr, struct pr_ctx *x, struct run *ru, int *res)
{
	const struct bloc *a = &ru->locs[0], *z = &ru->locs[ru->n - 1];
	const uint8_t *in;
	unsigned int k;
	int r;

	r = backend_get_range_aligned(pr->v->be, ru->pack, a->off, x->rbuf,
				      (size_t)z->off + z->len - a->off);
	if (r < 0)
		return r;
	in = x->rbuf + r;
	for (k = 0; k < ru->n; k++)
		res[k] = blob_open(&x->c, BLOB_DATA, ru->ids[k], in + (ru->locs[k].off - a->off),
				   ru->locs[k].len, ru->sl[k]->data);
	return 0;
}

/*
 * With pr->mu held: chunk ch (id, not zero) into the cache, with the
 * read-ahead run behind it.  Returns its slot (loaded) in *out, and 1
 * when fetched here, 0 when it was found in the cache.
 */
static int chunk_fetch(struct point_reader *pr, struct pr_ctx *x, uint64_t ch,
		       const seg_id_t id, struct slot **out)
{
	unsigned int k, reqs = 0;
	struct run ru;
	int res[RUN_MAX], r;

	if (!claim(pr, pr->chunks, pr->nchunks, ch, out))
		return 0;
	ru.ch = ch;
	ru.n = 1;
	ru.sl[0] = *out;
	memcpy(ru.ids[0], id, SEG_ID_LEN);
	r = chunk_loc(pr, ch, id, &ru.locs[0], ru.pack);
	if (!r)
		run_extend(pr, &ru);
	pthread_mutex_unlock(&pr->mu);
	if (!r) {
		reqs++;
		r = run_fetch(pr, x, &ru, res);
		/* A failed request of a run: the chunk alone may still read. */
		if (r < 0 && ru.n > 1) {
			pthread_mutex_lock(&pr->mu);
			for (k = 1; k < ru.n; k++)
				settle(pr, ru.sl[k], 0);
			pthread_cond_broadcast(&pr->filled);
			pthread_mutex_unlock(&pr->mu);
			ru.n = 1;
			reqs++;
			r = run_fetch(pr, x, &ru, res);
		}
		if (r == -ENOENT || r == -ENODATA)	/* pack gone or short */
			r = -EBADMSG;
		if (!r)
			r = res[0];
	}
	pthread_mutex_lock(&pr->mu);
	pr->st.reads += reqs;
	for (k = 0; k < ru.n; k++) {
		int ok = k ? !r && !res[k] : !r;

		settle(pr, ru.sl[k], ok);
		pr->st.fetched += ok;
	}
	pthread_cond_broadcast(&pr->filled);
	return r < 0 ? r : 1;
}

/* With pr->mu held: n bytes of chunk ch from in into out. */
static int chunk_copy(struct point_reader *pr, struct pr_ctx *x, uint64_t ch,
		      uint32_t in, size_t n, uint8_t *out)
{
	struct slot *sl;
	seg_id_t id;
	int hit, r;

	sl = find(pr->chunks, pr->nchunks, ch, &hit);
	if (hit && !sl->loading) {
		sl->used = ++pr->tick;
		pr->st.hits++;
		memcpy(out, sl->data + in, n);
		return 0;
	}
	r = chunk_id(pr, &x->c, ch, id);
	if (r < 0)
		return r;
	if (seg_is_zero_id(id)) {
		pr->st.zero++;
		memset(out, 0, n);
		return 0;
	}
	r = chunk_fetch(pr, x, ch, id, &sl);
	if (r < 0)
		return r;
	if (!r)
		pr->st.hits++;
	memcpy(out, sl->data + in, n);
	return 0;
}

/* With pr->mu held. */
static struct pr_ctx *ctx_get(struct point_reader *pr)
{
	struct pr_ctx *x = pr->idle;

	if (x) {
		pr->idle = x->next;
		return x;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	if (posix_memalign((void **)&x->rbuf, 4096, pr->rbuf_len)) {
		free(x);
		return NULL;
	}
	if (blob_ctx_init(&x->c, pr->v) < 0) {
		free(x->rbuf);
		free(x);
		return NULL;
	}
	return x;
}

int point_reader_read(struct point_reader *pr, uint64_t off, void *buf, size_t len,
		      uint64_t *bad)
{
	uint32_t cs = pr->m->chunk_size;
	uint8_t *out = buf;
	struct pr_ctx *x;
	int r = 0;

	if (off > pr->m->image_size || len > pr->m->image_size - off)
		return -EINVAL;
	pthread_mutex_lock(&pr->mu);
	x = ctx_get(pr);
	if (!x)
		r = -ENOMEM;
	while (!r && len) {
		uint64_t ch = off / cs;
		uint32_t in = (uint32_t)(off % cs);
		size_t n = MIN(len, (size_t)(cs - in));

		r = chunk_copy(pr, x, ch, in, n, out);
		if (r < 0)
			*bad = ch;
		out += n;
		off += n;
		len -= n;
	}
	if (x) {
		x->next = pr->idle;
		pr->idle = x;
	}
	pthread_mutex_unlock(&pr->mu);
	return r;
}

void point_reader_stats(struct point_reader *pr, struct point_reader_stats *st)
{
	pthread_mutex_lock(&pr->mu);
	*st = pr->st;
	pthread_mutex_unlock(&pr->mu);
}

static int slots_alloc(struct slot *s, unsigned int n, size_t size)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].key = EMPTY;
		s[i].used = 0;
		s[i].loading = 0;
		s[i].data = malloc(size);
		if (!s[i].data)
			return -ENOMEM;
	}
	return 0;
}

static void slots_free(struct slot *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; s && i < n; i++)
		free(s[i].data);
}

int point_reader_open(struct vault *v, struct bindex *bi, const struct manifest *m,
		      size_t cache_bytes, struct point_reader **out)
{
	struct point_reader *pr = calloc(1, sizeof(*pr));
	int r;

	if (!pr)
		return -ENOMEM;
	pr->v = v;
	pr->bi = bi;
	pr->m = m;
	pthread_mutex_init(&pr->mu, NULL);
	pthread_cond_init(&pr->filled, NULL);
	pr->nchunks = (unsigned int)MAX(cache_bytes / m->chunk_size, (size_t)MIN_SLOTS);
	/* Read-ahead never takes more than a quarter of the cache. */
	pr->run_max = (unsigned int)MIN(MAX(RUN_BYTES / m->chunk_size, 1U), RUN_MAX);
	pr->run_max = MAX(MIN(pr->run_max, pr->nchunks / 4), 1U);
	pr->seq_next = EMPTY;
	pr->rbuf_len = (size_t)pr->run_max * (m->chunk_size + BLOB_OVERHEAD + PACK_REC_LEN) +
		       BACKEND_ALIGN_SLACK;
	pr->chunks = calloc(pr->nchunks, sizeof(*pr->chunks));
	r = pr->chunks ? slots_alloc(pr->chunks, pr->nchunks, m->chunk_size) : -ENOMEM;
	if (!r)
		r = slots_alloc(pr->segs, SEG_SLOTS, (size_t)m->seg_chunks * SEG_ID_LEN);
	if (r < 0) {
		point_reader_close(pr);
		return r;
	}
	*out = pr;
	return 0;
}

void point_reader_close(struct point_reader *pr)
{
	struct pr_ctx *x;

	if (!pr)
		return;
	while ((x = pr->idle)) {
		pr->idle = x->next;
		blob_ctx_free(&x->c);
		free(x->rbuf);
		free(x);
	}
	slots_free(pr->chunks, pr->nchunks);
	slots_free(pr->segs, SEG_SLOTS);
	free(pr->chunks);
	pthread_cond_destroy(&pr->filled);
	pthread_mutex_destroy(&pr->mu);
	free(pr);
}
