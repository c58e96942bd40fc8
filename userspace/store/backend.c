// SPDX-License-Identifier: GPL-2.0
/* Backend selection and the name list shared by all backends. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

int backend_open(const char *location, int create, struct backend **out)
{
	if (!strncmp(location, "s3://", 5))
		return backend_s3_open(location, create, out);
	if (strstr(location, "://"))
		return -EPROTONOSUPPORT;
	return backend_local_open(location, create, out);
}

static const struct {
	const char *prefix;
	uint64_t max;
} limits[] = {
	{ "config.json", 64ULL << 10 },
	{ "keys.json", 1ULL << 20 },
	{ "rotation.json", 1ULL << 20 },
	{ "catalogue", 64ULL << 20 },
	{ "points/", (64ULL << 20) + 4096 },
	{ "index/", (256ULL << 20) + 4096 },
	{ "disks/", 64ULL << 20 },
	{ "log/", 64ULL << 10 },
	{ "jobs/", 64ULL << 10 },
	{ "locks/", 64ULL << 10 },
	{ "packs/", 0 },
	{ "tmp/", 0 },
};

#define LIMIT_OTHER	(1ULL << 20)

uint64_t backend_object_limit(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (!strncmp(name, limits[i].prefix, strlen(limits[i].prefix)))
			return limits[i].max;
	return LIMIT_OTHER;
}

int backend_get(struct backend *b, const char *name, size_t maxlen,
		void **buf, size_t *len)
{
	uint64_t lim = backend_object_limit(name);

	if (lim < maxlen)
		maxlen = (size_t)lim;
	return b->ops->get(b, name, maxlen, buf, len);
}

static pthread_mutex_t detail_mu = PTHREAD_MUTEX_INITIALIZER;
static char detail[160];

void backend_set_error_detail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&detail_mu);
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&detail_mu);
}

void backend_error_detail(char *buf, size_t len)
{
	pthread_mutex_lock(&detail_mu);
	snprintf(buf, len, "%s", detail);
	pthread_mutex_unlock(&detail_mu);
}

void backend_close(struct backend *b)
{
	if (b)
		b->ops->close(b);
}

int name_list_add(struct name_list *l, const char *name)
{
	char *dup;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **n = realloc(l->names, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		l->names = n;
		l->cap = cap;
	}
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	l->names[l->n++] = dup;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void name_list_sort(struct name_list *l)
{
	if (l->n)
		qsort(l->names, l->n, sizeof(*l->names), cmp_str);
}

void name_list_free(struct name_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}
