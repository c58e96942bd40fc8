// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
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
};

struct point_reader {
	struct vault *v;
	struct bindex *bi;
	const struct manifest *m;
	struct blob_ctx c;
	struct slot *chunks, segs[SEG_SLOTS];
	unsigned int nchunks;
	uint64_t tick;
	struct point_reader_stats st;
};

/* The slot holding key, or the least recently used one (key EMPTY first). */
static struct slot *find(struct slot *s, unsigned int n, uint64_t key, int *hit)
{
	struct slot *lru = &s[0];
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (s[i].key == key) {
			*hit = 1;
			return &s[i];
		}
		if (s[i].used < lru->used)
			lru = &s[i];
	}
	*hit = 0;
	return lru;
}

static int seg_ids(struct point_reader *pr, uint64_t s, const seg_id_t **ids)
{
	struct slot *sl;
	int hit, r;

	sl = find(pr->segs, SEG_SLOTS, s, &hit);
	if (!hit) {
		sl->key = EMPTY;
		r = vault_seg_load(pr->v, pr->bi, &pr->c, pr->m, s, (seg_id_t *)sl->data);
		if (r < 0)
			return r;
		sl->key = s;
	}
	sl->used = ++pr->tick;
	*ids = (const seg_id_t *)sl->data;
	return 0;
}

static int fetch(struct point_reader *pr, const uint8_t *id, uint32_t want, uint8_t *out)
{
	size_t len;
	int r;

	r = vault_blob_read(pr->v, pr->bi, &pr->c, id, BLOB_DATA, out, want, &len);
	if (r == -ENOENT || r == -ENODATA)
		r = -EBADMSG;
	return r ? r : len == want ? 0 : -EBADMSG;
}

/* Chunk ch into the cache; *data NULL for a zero chunk. */
static int chunk(struct point_reader *pr, uint64_t ch, const uint8_t **data)
{
	const struct manifest *m = pr->m;
	const seg_id_t *ids;
	struct slot *sl;
	int hit, r;

	sl = find(pr->chunks, pr->nchunks, ch, &hit);
	if (hit) {
		sl->used = ++pr->tick;
		pr->st.hits++;
		*data = sl->data;
		return 0;
	}
	r = seg_ids(pr, ch / m->seg_chunks, &ids);
	if (r < 0)
		return r;
	if (seg_is_zero_id(ids[ch % m->seg_chunks])) {
		pr->st.zero++;
		*data = NULL;
		return 0;
	}
	sl->key = EMPTY;
	r = fetch(pr, ids[ch % m->seg_chunks], chunk_len(m->chunk_size, m->image_size, ch),
		  sl->data);
	if (r < 0)
		return r;
	sl->key = ch;
	sl->used = ++pr->tick;
	pr->st.fetched++;
	*data = sl->data;
	return 0;
}

int point_reader_read(struct point_reader *pr, uint64_t off, void *buf, size_t len,
		      uint64_t *bad)
{
	uint32_t cs = pr->m->chunk_size;
	uint8_t *out = buf;

	if (off > pr->m->image_size || len > pr->m->image_size - off)
		return -EINVAL;
	while (len) {
		uint64_t ch = off / cs;
		uint32_t in = (uint32_t)(off % cs);
		size_t n = MIN(len, (size_t)(cs - in));
		const uint8_t *data;
		int r = chunk(pr, ch, &data);

		if (r < 0) {
			*bad = ch;
			return r;
		}
		if (data)
			memcpy(out, data + in, n);
		else
			memset(out, 0, n);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

void point_reader_stats(const struct point_reader *pr, struct point_reader_stats *st)
{
	*st = pr->st;
}

static int slots_alloc(struct slot *s, unsigned int n, size_t size)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].key = EMPTY;
		s[i].used = 0;
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
	pr->nchunks = (unsigned int)MAX(cache_bytes / m->chunk_size, (size_t)MIN_SLOTS);
	pr->chunks = calloc(pr->nchunks, sizeof(*pr->chunks));
	r = pr->chunks ? blob_ctx_init(&pr->c, v) : -ENOMEM;
	if (!r)
		r = slots_alloc(pr->chunks, pr->nchunks, m->chunk_size);
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
	if (!pr)
		return;
	slots_free(pr->chunks, pr->nchunks);
	slots_free(pr->segs, SEG_SLOTS);
	free(pr->chunks);
	blob_ctx_free(&pr->c);
	free(pr);
}
