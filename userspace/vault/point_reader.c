// SPDX-License-Identifier: GPL-2.0
/*
 * point_reader (see point_reader.h).  Thread-safe: one mutex guards the
 * cache, held for lookups and copies but never while a chunk or segment
 * is fetched and decrypted.  A slot being filled is marked loading, so
 * no other thread evicts it and readers of the same chunk wait for it
 * instead of fetching it twice.  Each reader borrows a blob context
 * (HMAC and AES-GCM state) from a free list, grown to the number of
 * threads that ever read at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "vault/point_reader.h"
#include "vault/vault_blob.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"

#define SEG_SLOTS	4
#define MIN_SLOTS	4
#define EMPTY		UINT64_MAX

/* A cache slot: which chunk (or segment) it holds and when it was used. */
struct slot {
	uint64_t key;
	uint64_t used;
	uint8_t *data;
	int loading;		/* being filled outside the lock */
};

/* A blob context not in use. */
struct pr_ctx {
	struct blob_ctx c;
	struct pr_ctx *next;
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
	uint64_t tick;
	struct point_reader_stats st;
};

/* Fills a slot's data for key (called without the lock). */
typedef int (*load_fn)(struct point_reader *pr, struct blob_ctx *c, uint64_t key,
		       const void *arg, uint8_t *out);

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
 * With pr->mu held: the slot holding key, loaded by this thread (1) or
 * found there (0).  The lock is dropped while loading.
 */
static int cache_get(struct point_reader *pr, struct blob_ctx *c, struct slot *s,
		     unsigned int n, uint64_t key, load_fn load, const void *arg,
		     struct slot **out)
{
	struct slot *sl;
	int hit, r;

	for (;;) {
		sl = find(s, n, key, &hit);
		if (sl && !sl->loading)
			break;
		pthread_cond_wait(&pr->filled, &pr->mu);
	}
	if (hit) {
		sl->used = ++pr->tick;
		*out = sl;
		return 0;
	}
	sl->key = key;
	sl->loading = 1;
	pthread_mutex_unlock(&pr->mu);
	r = load(pr, c, key, arg, sl->data);
	pthread_mutex_lock(&pr->mu);
	sl->loading = 0;
	sl->key = r < 0 ? EMPTY : key;
	sl->used = r < 0 ? 0 : ++pr->tick;
	pthread_cond_broadcast(&pr->filled);
	*out = sl;
	return r < 0 ? r : 1;
}

static int load_seg(struct point_reader *pr, struct blob_ctx *c, uint64_t s,
		    const void *arg, uint8_t *out)
{
	(void)arg;
	return vault_seg_load(pr->v, pr->bi, c, pr->m, s, (seg_id_t *)out);
}

static int load_chunk(struct point_reader *pr, struct blob_ctx *c, uint64_t ch,
		      const void *id, uint8_t *out)
{
	uint32_t want = chunk_len(pr->m->chunk_size, pr->m->image_size, ch);
	size_t len;
	int r;

	r = vault_blob_read(pr->v, pr->bi, c, id, BLOB_DATA, out, want, &len);
	if (r == -ENOENT || r == -ENODATA)
		r = -EBADMSG;
	return r ? r : len == want ? 0 : -EBADMSG;
}

/* With pr->mu held: chunk ch's id, copied out of its segment. */
static int chunk_id(struct point_reader *pr, struct blob_ctx *c, uint64_t ch,
		    seg_id_t id)
{
	const struct manifest *m = pr->m;
	struct slot *sl;
	int r;

	r = cache_get(pr, c, pr->segs, SEG_SLOTS, ch / m->seg_chunks, load_seg, NULL, &sl);
	if (r < 0)
		return r;
	memcpy(id, ((const seg_id_t *)sl->data)[ch % m->seg_chunks], SEG_ID_LEN);
	return 0;
}

/* With pr->mu held: n bytes of chunk ch from in into out. */
static int chunk_copy(struct point_reader *pr, struct blob_ctx *c, uint64_t ch,
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
	r = chunk_id(pr, c, ch, id);
	if (r < 0)
		return r;
	if (seg_is_zero_id(id)) {
		pr->st.zero++;
		memset(out, 0, n);
		return 0;
	}
	r = cache_get(pr, c, pr->chunks, pr->nchunks, ch, load_chunk, id, &sl);
	if (r < 0)
		return r;
	if (r)
		pr->st.fetched++;
	else
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
	if (x && blob_ctx_init(&x->c, pr->v) < 0) {
		free(x);
		x = NULL;
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

		r = chunk_copy(pr, &x->c, ch, in, n, out);
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
		free(x);
	}
	slots_free(pr->chunks, pr->nchunks);
	slots_free(pr->segs, SEG_SLOTS);
	free(pr->chunks);
	pthread_cond_destroy(&pr->filled);
	pthread_mutex_destroy(&pr->mu);
	free(pr);
}
