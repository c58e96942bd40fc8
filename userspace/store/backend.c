// SPDX-License-Identifier: GPL-2.0
/* Backend selection and the name list shared by all backends. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"

int backend_open(const char *location, int create, struct backend **out)
{
	if (strstr(location, "://"))
		return -EPROTONOSUPPORT;	/* s3:// arrives with its backend */
	return backend_local_open(location, create, out);
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
