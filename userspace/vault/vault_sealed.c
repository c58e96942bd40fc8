// SPDX-License-Identifier: GPL-2.0
/*
 * Sealed named objects: one blob envelope per backend object, its AAD
 * bound to the object's type and name (docs/vault-format.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "vault/vault_sealed.h"
#include "vault/vault_seg.h"

uint32_t vault_max_blob(const struct vault *v)
{
	size_t seg = seg_max_size(v->seg_chunks);

	return (uint32_t)MAX((size_t)v->chunk_size, seg) + BLOB_OVERHEAD;
}

int vault_put_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN],
			const void *buf, size_t len)
{
	uint8_t *out = malloc(len + BLOB_OVERHEAD);
	int r;

	if (!out)
		return -ENOMEM;
	r = blob_seal(c, type, id, buf, len, out);
	if (!r)
		r = backend_put(v->be, name, out, len + BLOB_OVERHEAD);
	free(out);
	return r;
}

int vault_put_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, const void *buf, size_t len)
{
	uint8_t id[BLOB_ID_LEN];

	blob_name_id(idname, id);
	return vault_put_sealed_id(v, c, type, name, id, buf, len);
}

int vault_get_sealed_id(struct vault *v, struct blob_ctx *c, uint8_t type,
			const char *name, const uint8_t id[BLOB_ID_LEN], size_t max,
			uint8_t **buf, size_t *len)
{
	uint8_t *in, *out;
	size_t n;
	int r;

	r = backend_get(v->be, name, max + BLOB_OVERHEAD, (void **)&in, &n);
	if (r == -EFBIG)
		return -EUCLEAN;
	if (r < 0)
		return r;
	if (n < BLOB_OVERHEAD) {
		free(in);
		return -EBADMSG;
	}
	out = malloc(n - BLOB_OVERHEAD + 1);
	r = out ? blob_open(c, type, id, in, n, out) : -ENOMEM;
	free(in);
	if (r < 0) {
		free(out);
		return r;
	}
	out[n - BLOB_OVERHEAD] = 0;	/* JSON payloads are parsed as strings */
	*buf = out;
	*len = n - BLOB_OVERHEAD;
	return 0;
}

int vault_get_sealed(struct vault *v, struct blob_ctx *c, uint8_t type,
		     const char *name, const char *idname, size_t max,
		     uint8_t **buf, size_t *len)
{
	uint8_t id[BLOB_ID_LEN];

	blob_name_id(idname, id);
	return vault_get_sealed_id(v, c, type, name, id, max, buf, len);
}
