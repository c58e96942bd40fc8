/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_BACKEND_H
#define CRYPTSNAP_BACKEND_H

/*
 * Storage backend: a flat namespace of named objects ("points/x.point",
 * "packs/ab/abcd.pack").  Names use '/' but a backend need not have
 * directories.  put() is an atomic, durable publish: after it returns the
 * object is complete and survives a crash, before it returns readers see
 * the old object or none.  A new backend (S3) is one new file providing
 * these ops.
 */
#include <stddef.h>
#include <stdint.h>

struct backend;

struct name_list {
	char **names;
	size_t n, cap;
};

struct backend_ops {
	const char *scheme;
	/* How many put_deferred calls pay to run at once (store/putq.h). */
	unsigned int put_parallel;
	int (*put)(struct backend *b, const char *name, const void *buf, size_t len);
	/*
	 * Like put, but the object need only be durable after the next
	 * sync(): a crash before it may leave the object whole or absent,
	 * never partial.  Safe to call from several threads at once.  A
	 * 4 KiB-aligned buf may be written around the page cache (local).
	 */
	int (*put_deferred)(struct backend *b, const char *name, const void *buf,
			    size_t len);
	/* Makes every put_deferred that returned before it durable. */
	int (*sync)(struct backend *b);
	/* Like put, but -EEXIST when the object exists (S3: If-None-Match). */
	int (*put_new)(struct backend *b, const char *name, const void *buf, size_t len);
	/* Whole object, at most maxlen bytes (-EFBIG beyond). */
	int (*get)(struct backend *b, const char *name, size_t maxlen,
		   void **buf, size_t *len);
	/* Exactly len bytes at off; -ENODATA when the object is shorter. */
	int (*get_range)(struct backend *b, const char *name, uint64_t off,
			 void *buf, size_t len);
	/*
	 * Optional, for large reads: like get_range, but buf is 4 KiB-aligned
	 * with room for len + BACKEND_ALIGN_SLACK bytes, and the backend may
	 * read the aligned range around [off, off+len) into it (local: with
	 * O_DIRECT, no page-cache fill).  Returns where off's byte landed in
	 * buf (>= 0) or a negative errno.
	 */
	int (*get_range_aligned)(struct backend *b, const char *name, uint64_t off,
				 void *buf, size_t len);
	/* All object names starting with prefix, sorted. */
	int (*list)(struct backend *b, const char *prefix, struct name_list *out);
	int (*del)(struct backend *b, const char *name);
	/* Object size, or -ENOENT. */
	int (*size)(struct backend *b, const char *name, uint64_t *size);
	/* When the object was last written (unix seconds), or -ENOENT. */
	int (*mtime)(struct backend *b, const char *name, int64_t *mtime);
	/* Remove half-written uploads last written before older_than (unix
	 * seconds): those of crashed writers, not of running ones. */
	int (*cleanup)(struct backend *b, int64_t older_than);
	void (*close)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	char *location;
};

/* Opens the backend a location names; create makes an empty one. */
int backend_open(const char *location, int create, struct backend **out);
void backend_close(struct backend *b);

/* Local directory backend (store/local.c). */
int backend_local_open(const char *path, int create, struct backend **out);
/* S3 backend, "s3://BUCKET[/PREFIX]" (store/s3.c); the bucket must exist. */
int backend_s3_open(const char *location, int create, struct backend **out);

static inline int backend_put(struct backend *b, const char *name,
			      const void *buf, size_t len)
{
	return b->ops->put(b, name, buf, len);
}

static inline int backend_put_deferred(struct backend *b, const char *name,
				       const void *buf, size_t len)
{
	return b->ops->put_deferred(b, name, buf, len);
}

static inline int backend_sync(struct backend *b)
{
	return b->ops->sync(b);
}

/*
 * Bounded reads: the largest object a whole-object read accepts, chosen by
 * the name's prefix (docs/vault-format.md, "Size limits").  Packs and
 * tmp/ have limit 0: they are read with get_range only.
 */
uint64_t backend_object_limit(const char *name);

/* Whole object, at most min(maxlen, backend_object_limit(name)) bytes;
 * -EFBIG (before anything is read into memory) beyond. */
int backend_get(struct backend *b, const char *name, size_t maxlen,
		void **buf, size_t *len);

static inline int backend_get_range(struct backend *b, const char *name,
				    uint64_t off, void *buf, size_t len)
{
	return b->ops->get_range(b, name, off, buf, len);
}

#define BACKEND_ALIGN_SLACK	8192U

/* get_range_aligned where the backend has it, else get_range (at 0). */
static inline int backend_get_range_aligned(struct backend *b, const char *name,
					    uint64_t off, void *buf, size_t len)
{
	int r;

	if (b->ops->get_range_aligned)
		return b->ops->get_range_aligned(b, name, off, buf, len);
	r = b->ops->get_range(b, name, off, buf, len);
	return r < 0 ? r : 0;
}

static inline int backend_list(struct backend *b, const char *prefix,
			       struct name_list *out)
{
	return b->ops->list(b, prefix, out);
}

static inline int backend_del(struct backend *b, const char *name)
{
	return b->ops->del(b, name);
}

/*
 * What the store said about the last request that failed for good (after
 * retries), e.g. "S3 SignatureDoesNotMatch (HTTP 403)"; "" when none
 * failed.  Routine misses (404 of a missing object) do not count.  For
 * the one line cli/ prints with an error.
 */
void backend_error_detail(char *buf, size_t len);
void backend_set_error_detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int name_list_add(struct name_list *l, const char *name);
void name_list_sort(struct name_list *l);
void name_list_free(struct name_list *l);

#endif
