// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/names.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_kek.h"
#include "vault/vault_manifest.h"

int point_id_valid(const char *id)
{
	return name_chars_ok(id, POINT_ID_MAX - 1, "-");
}

int escrow_name_valid(const char *name)
{
	return name_chars_ok(name, ESCROW_NAME_MAX - 1, "-_.");
}

uint64_t manifest_segs_for(uint64_t image_size, uint32_t chunk_size, uint32_t seg_chunks)
{
	uint64_t chunks = (image_size + chunk_size - 1) / chunk_size;

	return (chunks + seg_chunks - 1) / seg_chunks;
}

uint64_t manifest_nchunks(const struct manifest *m)
{
	return (m->image_size + m->chunk_size - 1) / m->chunk_size;
}

uint32_t manifest_seg_len(const struct manifest *m, uint64_t s)
{
	uint64_t left = manifest_nchunks(m) - s * m->seg_chunks;

	return (uint32_t)MIN(left, (uint64_t)m->seg_chunks);
}

int manifest_set_meta(struct manifest *m, const char *key, const char *val)
{
	if (m->nmeta >= MANIFEST_MAX_META || strlen(key) >= 32 || strlen(val) >= 256)
		return -E2BIG;
	snprintf(m->meta_key[m->nmeta], 32, "%s", key);
	snprintf(m->meta_val[m->nmeta], 256, "%s", val);
	m->nmeta++;
	return 0;
}

const char *manifest_meta(const struct manifest *m, const char *key)
{
	unsigned int i;

	for (i = 0; i < m->nmeta; i++)
		if (!strcmp(m->meta_key[i], key))
			return m->meta_val[i];
	return NULL;
}

json_object *escrow_slot_json(const struct escrow_slot *e)
{
	json_object *o = json_object_new_object(), *w = json_object_new_array();
	unsigned int i;

	json_object_object_add(o, "name", json_object_new_string(e->name));
	json_object_object_add(o, "kind", json_object_new_string(
		e->kind == ESCROW_DEK ? "dek" : e->kind == ESCROW_IMAGE ? "image" : "kek"));
	vj_add_hex(o, "data", e->data, e->len);
	for (i = 0; i < e->nwraps; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "gen", json_object_new_int64(e->wraps[i].gen));
		vj_add_hex(x, "wrapped", e->wraps[i].data, e->wraps[i].len);
		json_object_array_add(w, x);
	}
	json_object_object_add(o, "wraps", w);
	return o;
}

static json_object *segs_json(const struct manifest *m)
{
	json_object *a = json_object_new_array_ext((int)m->nsegs);
	char hex[2 * SEG_ID_LEN + 1];
	uint64_t i;

	for (i = 0; i < m->nsegs; i++) {
		if (seg_is_zero_id(m->segs[i])) {
			json_object_array_add(a, NULL);
			continue;
		}
		hex_encode(m->segs[i], SEG_ID_LEN, hex);
		json_object_array_add(a, json_object_new_string(hex));
	}
	return a;
}

static void add_stats(json_object *o, const struct manifest *m)
{
	json_object *s = json_object_new_object();

	json_object_object_add(s, "chunks_zero", json_object_new_int64((int64_t)m->chunks_zero));
	json_object_object_add(s, "chunks_new", json_object_new_int64((int64_t)m->chunks_new));
	json_object_object_add(s, "bytes_new", json_object_new_int64((int64_t)m->bytes_new));
	json_object_object_add(s, "bytes_stored", json_object_new_int64((int64_t)m->bytes_stored));
	json_object_object_add(o, "stats", s);
}

int manifest_encode(const struct manifest *m, char **out, size_t *len)
{
	json_object *o = json_object_new_object(), *esc = json_object_new_array();
	json_object *meta = json_object_new_object();
	unsigned int i;
	int r;

	json_object_object_add(o, "format", json_object_new_int(VAULT_FORMAT_VERSION));
	json_object_object_add(o, "id", json_object_new_string(m->id));
	json_object_object_add(o, "disk", json_object_new_string(m->disk));
	json_object_object_add(o, "base", json_object_new_string(m->base));
	json_object_object_add(o, "created", json_object_new_int64(m->created));
	json_object_object_add(o, "retain_until", json_object_new_int64(m->retain_until));
	if (m->deleted)
		json_object_object_add(o, "deleted", json_object_new_int64(m->deleted));
	json_object_object_add(o, "image_size", json_object_new_int64((int64_t)m->image_size));
	json_object_object_add(o, "chunk_size", json_object_new_int64(m->chunk_size));
	json_object_object_add(o, "seg_chunks", json_object_new_int64(m->seg_chunks));
	json_object_object_add(o, "segments", segs_json(m));
	add_stats(o, m);
	for (i = 0; i < m->nescrow; i++)
		json_object_array_add(esc, escrow_slot_json(&m->escrow[i]));
	json_object_object_add(o, "escrow", esc);
	for (i = 0; i < m->nmeta; i++)
		json_object_object_add(meta, m->meta_key[i], json_object_new_string(m->meta_val[i]));
	json_object_object_add(o, "meta", meta);
	r = vj_dump(o, out, len);
	json_object_put(o);
	return r;
}

static int hex_blob(json_object *o, const char *key, uint8_t **data, size_t *len,
		    size_t max)
{
	const char *s;

	if (vj_str(o, key, &s) || strlen(s) > 2 * max || hex_decode_alloc(s, data, len))
		return -EUCLEAN;
	return 0;
}

static int decode_wraps(json_object *o, struct escrow_slot *e)
{
	json_object *w;
	size_t n, i;

	if (vj_array(o, "wraps", &w, &n) || n > 2 || (e->kind == ESCROW_KEK) != (n > 0))
		return -EUCLEAN;
	for (i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(w, i);
		uint64_t gen;

		if (!json_object_is_type(x, json_type_object) || vj_u64(x, "gen", &gen) ||
		    !gen || gen > UINT32_MAX)
			return -EUCLEAN;
		e->wraps[i].gen = (uint32_t)gen;
		if (hex_blob(x, "wrapped", &e->wraps[i].data, &e->wraps[i].len, KEK_WRAP_MAX))
			return -EUCLEAN;
		e->nwraps = (unsigned int)i + 1;
	}
	return 0;
}

int escrow_slot_decode(json_object *x, struct escrow_slot *e)
{
	const char *name, *kind;
	int r;

	memset(e, 0, sizeof(*e));
	if (!json_object_is_type(x, json_type_object) || vj_str(x, "name", &name) ||
	    !escrow_name_valid(name) || vj_str(x, "kind", &kind))
		return -EUCLEAN;
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (!strcmp(kind, "dek"))
		e->kind = ESCROW_DEK;
	else if (!strcmp(kind, "kek"))
		e->kind = ESCROW_KEK;
	else if (!strcmp(kind, "image"))
		e->kind = ESCROW_IMAGE;
	else
		return -EUCLEAN;
	r = hex_blob(x, "data", &e->data, &e->len, ESCROW_DATA_MAX + 64);
	if (!r && e->kind == ESCROW_IMAGE && e->len != ESCROW_IMAGE_LEN)
		r = -EUCLEAN;
	if (!r)
		r = decode_wraps(x, e);
	if (r < 0)
		escrow_slot_free(e);
	return r;
}

void escrow_slot_free(struct escrow_slot *e)
{
	unsigned int j;

	free(e->data);
	for (j = 0; j < e->nwraps && j < 2; j++)
		free(e->wraps[j].data);
	memset(e, 0, sizeof(*e));
}

static int decode_escrow(json_object *o, struct manifest *m)
{
	json_object *a;
	size_t n, i;
	int r = 0;

	if (vj_array(o, "escrow", &a, &n) || n > MANIFEST_MAX_ESCROW)
		return -EUCLEAN;
	for (i = 0; !r && i < n; i++) {
		r = escrow_slot_decode(json_object_array_get_idx(a, i), &m->escrow[i]);
		if (!r)
			m->nescrow = (unsigned int)i + 1;
	}
	return r;
}

static int decode_segs(json_object *o, struct manifest *m)
{
	json_object *a;
	size_t n, i;

	m->nsegs = manifest_segs_for(m->image_size, m->chunk_size, m->seg_chunks);
	if (vj_array(o, "segments", &a, &n) || n != m->nsegs)
		return -EUCLEAN;
	m->segs = calloc(n ? n : 1, SEG_ID_LEN);
	if (!m->segs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(a, i);

		if (!x)
			continue;
		if (!json_object_is_type(x, json_type_string) ||
		    hex_decode(json_object_get_string(x), m->segs[i], SEG_ID_LEN) ||
		    seg_is_zero_id(m->segs[i]))
			return -EUCLEAN;
	}
	return 0;
}

static int decode_meta(json_object *o, struct manifest *m)
{
	json_object *meta;

	if (!json_object_object_get_ex(o, "meta", &meta) ||
	    !json_object_is_type(meta, json_type_object))
		return -EUCLEAN;
	json_object_object_foreach(meta, key, val) {
		if (!json_object_is_type(val, json_type_string) ||
		    manifest_set_meta(m, key, json_object_get_string(val)))
			return -EUCLEAN;
	}
	return 0;
}

static int decode_stats(json_object *o, struct manifest *m)
{
	json_object *s;

	if (!json_object_object_get_ex(o, "stats", &s) ||
	    !json_object_is_type(s, json_type_object) ||
	    vj_u64(s, "chunks_zero", &m->chunks_zero) ||
	    vj_u64(s, "chunks_new", &m->chunks_new) ||
	    vj_u64(s, "bytes_new", &m->bytes_new) ||
	    vj_u64(s, "bytes_stored", &m->bytes_stored))
		return -EUCLEAN;
	return 0;
}

static int decode_header(json_object *o, uint32_t chunk_size, uint32_t seg_chunks,
			 struct manifest *m)
{
	const char *id, *disk, *base;
	uint64_t fmt, cs, sc;

	if (vj_u64(o, "format", &fmt))
		return -EUCLEAN;
	if (fmt != VAULT_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	if (vj_str(o, "id", &id) || !point_id_valid(id) ||
	    vj_str(o, "disk", &disk) || !disk_name_valid(disk) ||
	    vj_str(o, "base", &base) || (*base && !point_id_valid(base)) ||
	    vj_i64(o, "created", &m->created) || vj_i64(o, "retain_until", &m->retain_until) ||
	    vj_u64(o, "image_size", &m->image_size) || vj_u64(o, "chunk_size", &cs) ||
	    vj_u64(o, "seg_chunks", &sc))
		return -EUCLEAN;
	if (cs != chunk_size || sc != seg_chunks || m->image_size > MANIFEST_IMAGE_MAX ||
	    m->retain_until < 0)
		return -EUCLEAN;
	/* Soft delete (optional; manifests of older builds lack it). */
	m->deleted = 0;
	if (json_object_object_get_ex(o, "deleted", NULL) &&
	    (vj_i64(o, "deleted", &m->deleted) || m->deleted <= 0))
		return -EUCLEAN;
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->disk, sizeof(m->disk), "%s", disk);
	snprintf(m->base, sizeof(m->base), "%s", base);
	m->chunk_size = chunk_size;
	m->seg_chunks = seg_chunks;
	return 0;
}

int manifest_decode(const void *buf, size_t len, uint32_t chunk_size,
		    uint32_t seg_chunks, struct manifest *m)
{
	json_object *o;
	int r;

	memset(m, 0, sizeof(*m));
	r = vj_parse(buf, len, &o);
	if (r < 0)
		return r;
	r = decode_header(o, chunk_size, seg_chunks, m);
	if (!r)
		r = decode_segs(o, m);
	if (!r)
		r = decode_stats(o, m);
	if (!r)
		r = decode_escrow(o, m);
	if (!r)
		r = decode_meta(o, m);
	json_object_put(o);
	if (r < 0)
		manifest_free(m);
	return r;
}

void manifest_free(struct manifest *m)
{
	unsigned int i;

	free(m->segs);
	for (i = 0; i < m->nescrow; i++)
		escrow_slot_free(&m->escrow[i]);
	memset(m, 0, sizeof(*m));
}
