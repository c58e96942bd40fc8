// SPDX-License-Identifier: GPL-2.0
/*
 * The pack writer: workers seal blobs straight into pack buffers of about
 * v->pack_size, full packs are put asynchronously, and the commit publishes
 * the index of what was written.  Flow and crash order in vault_pack.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/util.h"
#include "store/putq.h"
#include "vault/vault_index.h"
#include "vault/vault_pack.h"
#include "vault/vault_sealed.h"

struct pack_buf {
	struct pack_buf *next;		/* free list */
	struct pack_writer *pw;
	uint8_t *buf;
	size_t len;
	unsigned int refs;		/* reservations not yet released */
	int closed;			/* full: put once refs is 0 */
	uint64_t t_submit;		/* CLOCK_MONOTONIC ns */
	uint8_t pid[PACK_ID_LEN];
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static const uint8_t pack_magic[PACK_HDR_LEN] = "CSPK\2\0\0\0";

int pack_writer_init(struct pack_writer *pw, struct vault *v, struct bindex *bi,
		     unsigned int nputs)
{
	size_t cap = (size_t)v->pack_size + PACK_REC_LEN + vault_max_blob(v);
	unsigned int i;
	int r;

	memset(pw, 0, sizeof(*pw));
	pw->v = v;
	pw->bi = bi;
	pthread_mutex_init(&pw->mu, NULL);
	pthread_cond_init(&pw->freed, NULL);
	r = putq_open(v->be, nputs, &pw->q);
	if (r < 0)
		return r;
	pw->nbufs = (nputs ? nputs : v->be->ops->put_parallel) + 2;
	pw->bufs = calloc(pw->nbufs, sizeof(*pw->bufs));
	if (!pw->bufs)
		return -ENOMEM;
	for (i = 0; i < pw->nbufs; i++) {
		struct pack_buf *pb = &pw->bufs[i];

		pb->pw = pw;
		/* Aligned: the local backend writes it with O_DIRECT. */
		if (posix_memalign((void **)&pb->buf, 4096, cap))
			return -ENOMEM;
		pb->next = pw->free;
		pw->free = pb;
	}
	return 0;
}

static int recs_add(struct bindex_rec **a, size_t *n, size_t *cap,
		    const struct bindex_rec *rec)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		void *p = realloc(*a, c * sizeof(**a));

		if (!p)
			return -ENOMEM;
		*a = p;
		*cap = c;
	}
	(*a)[(*n)++] = *rec;
	return 0;
}

int pack_rec_decode(const uint8_t *hdr, uint32_t max_blob, uint8_t id[32],
		    uint32_t *len, uint8_t *type)
{
	static const uint8_t zero[32];

	*len = get_le32(hdr + 32);
	*type = hdr[36];
	if (!memcmp(hdr, zero, 32) || *len < BLOB_OVERHEAD || *len > max_blob ||
	    (*type != BLOB_DATA && *type != BLOB_SEG) || hdr[37] || hdr[38] || hdr[39])
		return -EUCLEAN;
	memcpy(id, hdr, 32);
	return 0;
}

/* pw->mu held. */
static void buf_put_back(struct pack_writer *pw, struct pack_buf *pb)
{
	pb->next = pw->free;
	pw->free = pb;
	pthread_cond_broadcast(&pw->freed);
}

/*
 * The pack is durable (after the sync): its blobs get their places.  The
 * pack's own record headers say what it holds, so nothing else is kept
 * per blob while it is being filled.
 */
static int index_pack(struct pack_writer *pw, struct pack_buf *pb)
{
	struct bindex_rec rec;
	size_t pos = PACK_HDR_LEN;
	uint32_t idx;
	int r;

	pthread_mutex_lock(&pw->bi->mu);
	r = bindex_add_pack(pw->bi, pb->pid, &idx);
	while (r >= 0 && pos < pb->len) {
		r = pack_rec_decode(pb->buf + pos, UINT32_MAX, rec.id, &rec.loc.len,
				    &rec.loc.type);
		rec.loc.pack = idx;
		rec.loc.off = (uint32_t)(pos + PACK_REC_LEN);
		if (r >= 0)
			r = bindex_put(pw->bi, rec.id, &rec.loc, 1);
		if (r >= 0) {
			pthread_mutex_lock(&pw->mu);
			r = recs_add(&pw->all, &pw->nall, &pw->capall, &rec);
			pthread_mutex_unlock(&pw->mu);
		}
		pos += PACK_REC_LEN + rec.loc.len;
	}
	pthread_mutex_unlock(&pw->bi->mu);
	return r < 0 ? r : 0;
}

/* Runs on a putq thread. */
static void put_done(void *arg, int err)
{
	struct pack_buf *pb = arg;
	struct pack_writer *pw = pb->pw;

	if (!err) {
		crashpoint("pack.written");
		err = index_pack(pw, pb);
	}
	pthread_mutex_lock(&pw->mu);
	if (err && !pw->err)
		pw->err = err;
	if (!err)
		pw->bytes_written += pb->len;
	pw->put_ns += now_ns() - pb->t_submit;
	buf_put_back(pw, pb);
	pthread_mutex_unlock(&pw->mu);
}

/* pw->mu held: a closed pack without reservations goes to the backend. */
static void maybe_submit(struct pack_writer *pw, struct pack_buf *pb)
{
	char name[80];
	int r;

	if (!pb->closed || pb->refs)
		return;
	r = pw->err;
	if (!r)
		r = crypto_random(pb->pid, sizeof(pb->pid));
	if (!r) {
		bindex_pack_name(pb->pid, name, sizeof(name));
		pb->t_submit = now_ns();
		r = putq_submit(pw->q, name, pb->buf, pb->len, put_done, pb);
	}
	if (r < 0) {
		if (!pw->err)
			pw->err = r;
		buf_put_back(pw, pb);
	}
}

/* pw->mu held. */
static void close_cur(struct pack_writer *pw)
{
	struct pack_buf *pb = pw->cur;

	pw->cur = NULL;
	if (pb->len == PACK_HDR_LEN) {
		buf_put_back(pw, pb);
		return;
	}
	pb->closed = 1;
	maybe_submit(pw, pb);
}

/* pw->mu held: how many of the blobs fit after pb->len, and their bytes. */
static uint32_t fitting(const struct pack_writer *pw, const struct pack_buf *pb,
			const uint32_t *lens, uint32_t n, size_t *bytes)
{
	size_t len = pb->len;
	uint32_t k;

	for (k = 0; k < n; k++) {
		size_t add = PACK_REC_LEN + (size_t)lens[k];

		/* The first blob of an empty pack always fits (buffer slack). */
		if (len + add > pw->v->pack_size && len > PACK_HDR_LEN)
			break;
		len += add;
	}
	*bytes = len - pb->len;
	return k;
}

int pack_reserve(struct pack_writer *pw, const uint32_t *lens, uint32_t n,
		 uint32_t *granted, struct pack_slot *s)
{
	size_t bytes = 0;
	uint32_t k = 0;
	int r;

	if (!n)
		return -EINVAL;
	pthread_mutex_lock(&pw->mu);
	while (!(r = pw->err)) {
		if (!pw->cur && !pw->free) {
			pthread_cond_wait(&pw->freed, &pw->mu);
			continue;
		}
		if (!pw->cur) {
			pw->cur = pw->free;
			pw->free = pw->cur->next;
			memcpy(pw->cur->buf, pack_magic, PACK_HDR_LEN);
			pw->cur->len = PACK_HDR_LEN;
			pw->cur->refs = 0;
			pw->cur->closed = 0;
		}
		k = fitting(pw, pw->cur, lens, n, &bytes);
		if (k)
			break;
		close_cur(pw);
	}
	if (!r) {
		s->pb = pw->cur;
		s->pos = pw->cur->len;
		s->end = s->pos + bytes;
		pw->cur->len += bytes;
		pw->cur->refs++;
		*granted = k;
	}
	pthread_mutex_unlock(&pw->mu);
	return r;
}

uint8_t *pack_slot_next(struct pack_slot *s, const uint8_t id[32], uint8_t type,
			uint32_t len)
{
	uint8_t *p = s->pb->buf + s->pos;

	memcpy(p, id, 32);
	put_le32(p + 32, len);
	memcpy(p + 36, (uint8_t[4]){ type, 0, 0, 0 }, 4);
	s->pos += PACK_REC_LEN + len;
	return p + PACK_REC_LEN;
}

void pack_release(struct pack_writer *pw, struct pack_slot *s, int err)
{
	pthread_mutex_lock(&pw->mu);
	if (!err && s->pos != s->end)
		err = -EINVAL;		/* filled other than reserved */
	if (err && !pw->err)
		pw->err = err;
	s->pb->refs--;
	maybe_submit(pw, s->pb);
	pthread_mutex_unlock(&pw->mu);
	s->pb = NULL;
}

int pack_writer_flush(struct pack_writer *pw)
{
	int r;

	pthread_mutex_lock(&pw->mu);
	if (pw->cur)
		close_cur(pw);
	r = pw->err;
	pthread_mutex_unlock(&pw->mu);
	return r;
}

int pack_writer_commit(struct pack_writer *pw, struct blob_ctx *c)
{
	int r, e;

	r = pack_writer_flush(pw);
	/* The one sync point: every pack durable before the index names it. */
	e = putq_sync(pw->q);
	if (!r)
		r = e;
	pthread_mutex_lock(&pw->mu);
	if (!r)
		r = pw->err;
	pthread_mutex_unlock(&pw->mu);
	if (r < 0 || !pw->nall)
		return r;
	crashpoint("packs.synced");
	pthread_mutex_lock(&pw->bi->mu);
	r = vault_index_write(pw->v, c, pw->bi, pw->all, pw->nall, NULL, 0);
	pthread_mutex_unlock(&pw->bi->mu);
	return r;
}

void pack_writer_free(struct pack_writer *pw)
{
	unsigned int i;

	if (pw->q) {
		pthread_mutex_lock(&pw->mu);
		if (!pw->err)
			pw->err = -ECANCELED;	/* nothing more is put */
		pthread_mutex_unlock(&pw->mu);
		putq_close(pw->q);
	}
	for (i = 0; pw->bufs && i < pw->nbufs; i++)
		free(pw->bufs[i].buf);
	free(pw->bufs);
	free(pw->all);
	pthread_cond_destroy(&pw->freed);
	pthread_mutex_destroy(&pw->mu);
	memset(pw, 0, sizeof(*pw));
}
