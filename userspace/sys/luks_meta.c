// SPDX-License-Identifier: GPL-2.0
/*
 * LUKS header fingerprints from raw bytes (see luks_meta.h).  Field
 * offsets are those of the published LUKS1 and LUKS2 on-disk format
 * specifications; all integers there are big-endian.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "sys/luks_meta.h"

#define L1_MAGIC	"LUKS\xba\xbe"
#define L2_MAGIC2	"SKUL\xba\xbe"
#define MAGIC_LEN	6
#define L1_PHDR_LEN	592		/* binary header incl. 8 keyslots */
#define L2_BIN_LEN	4096		/* binary part of a LUKS2 header copy */
#define L2_CSUM_OFF	448
#define L2_CSUM_LEN	64

/* Hash input for the layout: grows as fields are added, bounded. */
struct lbuf {
	char *p;
	size_t len, cap;
	int err;
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void lb_add(struct lbuf *b, const char *tag, const void *s, size_t n)
{
	size_t tl = strlen(tag), need = b->len + tl + 1 + n + 1;
	char *p;

	if (b->err)
		return;
	if (need > b->cap) {
		size_t cap = MAX(need, b->cap * 2);

		if (cap > (4U << 20) || !(p = realloc(b->p, cap))) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, tag, tl);
	b->p[b->len + tl] = '=';
	memcpy(b->p + b->len + tl + 1, s, n);
	b->p[b->len + tl + 1 + n] = '\n';
	b->len = need;
}

/* A fixed-size, NUL-padded string field, copied bounded. */
static void field(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	size_t l = strnlen((const char *)p, n);

	l = MIN(l, outlen - 1);
	memcpy(out, p, l);
	out[l] = 0;
}

static int finish_layout(struct lbuf *b, struct luks_meta *m)
{
	int r = b->err ? b->err : crypto_sha256(b->p, b->len, m->layout);

	free(b->p);
	return r;
}

static int parse_luks1(const uint8_t *h, size_t len, struct luks_meta *m)
{
	struct lbuf b = { 0 };
	uint32_t payload, keybytes;

	if (len < L1_PHDR_LEN)
		return -EINVAL;
	payload = be32(h + 104);
	keybytes = be32(h + 108);
	if (!payload || !keybytes || keybytes > 512)
		return -EINVAL;
	m->version = 1;
	field(h + 168, 40, m->uuid, sizeof(m->uuid));
	m->data_offset = (uint64_t)payload * 512;
	m->area = m->data_offset;
	lb_add(&b, "v", "1", 1);
	lb_add(&b, "uuid", m->uuid, strlen(m->uuid));
	/* cipher name, mode, hash spec: three 32-byte fields from offset 8 */
	lb_add(&b, "cipher", h + 8, strnlen((const char *)h + 8, 32));
	lb_add(&b, "mode", h + 40, strnlen((const char *)h + 40, 32));
	lb_add(&b, "hash", h + 72, strnlen((const char *)h + 72, 32));
	lb_add(&b, "payload", h + 104, 4);
	lb_add(&b, "keybytes", h + 108, 4);
	/* master-key digest, its salt and iterations identify the volume key */
	lb_add(&b, "mkdigest", h + 112, 20 + 32 + 4);
	return finish_layout(&b, m);
}

/* One LUKS2 binary header copy at h (len bytes available from h). */
static int l2_copy_ok(const uint8_t *h, size_t len, const char *magic, uint64_t *hdr_size)
{
	uint8_t *tmp, sum[32];
	uint64_t sz;
	int r;

	if (len < L2_BIN_LEN || memcmp(h, magic, MAGIC_LEN) || h[6] != 0 || h[7] != 2)
		return 0;
	sz = be64(h + 8);
	/* The specification allows 16 KiB .. 4 MiB, powers of two. */
	if (sz < (16U << 10) || sz > (4U << 20) || (sz & (sz - 1)) || sz > len)
		return 0;
	if (strncmp((const char *)h + 72, "sha256", 32))
		return 0;		/* the only checksum cryptsetup writes */
	tmp = malloc(sz);
	if (!tmp)
		return 0;
	memcpy(tmp, h, sz);
	memset(tmp + L2_CSUM_OFF, 0, L2_CSUM_LEN);
	r = crypto_sha256(tmp, sz, sum);
	free(tmp);
	if (r || memcmp(sum, h + L2_CSUM_OFF, 32))
		return 0;
	*hdr_size = sz;
	return 1;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* LUKS2 JSON numbers are decimal strings. */
static int json_u64(const char *s, uint64_t *v)
{
	return parse_u64(s, 0, UINT64_MAX, v);
}

static void add_json(struct lbuf *b, const char *tag, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

	lb_add(b, tag, s, strlen(s));
}

/* Segments as stored; the lowest crypt segment offset is the data offset. */
static int l2_segments(json_object *root, struct lbuf *b, struct luks_meta *m)
{
	json_object *segs;
	int n = 0;

	if (!json_object_object_get_ex(root, "segments", &segs) ||
	    !json_object_is_type(segs, json_type_object))
		return -EINVAL;
	m->data_offset = UINT64_MAX;
	json_object_object_foreach(segs, key, seg) {
		uint64_t off;

		if (!json_object_is_type(seg, json_type_object) ||
		    json_u64(jstr(seg, "offset"), &off))
			return -EINVAL;
		m->data_offset = MIN(m->data_offset, off);
		lb_add(b, "segment", key, strlen(key));
		add_json(b, "s", seg);
		n++;
	}
	return n ? 0 : -EINVAL;
}

/* Volume-key digests: which key, not which keyslots open it. */
static int l2_digests(json_object *root, struct lbuf *b)
{
	static const char *const keep[] = { "type", "segments", "hash", "iterations",
					    "salt", "digest" };
	json_object *dg, *v;
	unsigned int i;

	if (!json_object_object_get_ex(root, "digests", &dg) ||
	    !json_object_is_type(dg, json_type_object))
		return -EINVAL;
	json_object_object_foreach(dg, key, d) {
		if (!json_object_is_type(d, json_type_object))
			return -EINVAL;
		lb_add(b, "digest", key, strlen(key));
		for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (json_object_object_get_ex(d, keep[i], &v))
				add_json(b, keep[i], v);
	}
	return 0;
}

static int l2_config(json_object *root, struct lbuf *b, uint64_t hdr_size,
		     struct luks_meta *m)
{
	json_object *cfg, *req;
	uint64_t ks;

	if (!json_object_object_get_ex(root, "config", &cfg) ||
	    json_u64(jstr(cfg, "keyslots_size"), &ks) || ks > (1ULL << 40))
		return -EINVAL;
	m->area = 2 * hdr_size + ks;
	/* online reencryption and other mandatory requirements */
	if (json_object_object_get_ex(cfg, "requirements", &req))
		add_json(b, "requirements", req);
	return 0;
}

static int parse_json(const uint8_t *h, uint64_t hdr_size, struct lbuf *b,
		      struct luks_meta *m)
{
	const char *js = (const char *)h + L2_BIN_LEN;
	size_t jl = strnlen(js, hdr_size - L2_BIN_LEN);
	struct json_tokener *tok = json_tokener_new();
	json_object *root;
	int r;

	if (!tok)
		return -ENOMEM;
	root = json_tokener_parse_ex(tok, js, (int)jl);
	r = root && json_tokener_get_error(tok) == json_tokener_success &&
	    json_object_is_type(root, json_type_object) ? 0 : -EINVAL;
	json_tokener_free(tok);
	if (!r)
		r = l2_segments(root, b, m);
	if (!r)
		r = l2_digests(root, b);
	if (!r)
		r = l2_config(root, b, hdr_size, m);
	json_object_put(root);
	return r;
}

static int parse_luks2(const uint8_t *h, size_t len, struct luks_meta *m)
{
	struct lbuf b = { 0 };
	uint64_t s1 = 0, s2 = 0;
	const uint8_t *use;
	int ok1, ok2 = 0, r;

	ok1 = l2_copy_ok(h, len, L1_MAGIC, &s1);
	if (ok1) {
		ok2 = s1 < len && l2_copy_ok(h + s1, len - s1, L2_MAGIC2, &s2) && s2 == s1;
	} else {
		/* A damaged primary: the copy sits right after it, at its size. */
		for (s1 = 16U << 10; !ok2 && s1 <= (4U << 20) && s1 < len; s1 <<= 1)
			ok2 = l2_copy_ok(h + s1, len - s1, L2_MAGIC2, &s2) && s2 == s1;
		s1 = s2;
	}
	if (!ok1 && !ok2)
		return -EINVAL;
	use = !ok1 || (ok2 && be64(h + s1 + 16) > be64(h + 16)) ? h + s1 : h;
	m->version = 2;
	m->seqid = be64(use + 16);
	field(use + 168, 40, m->uuid, sizeof(m->uuid));
	lb_add(&b, "v", "2", 1);
	lb_add(&b, "uuid", m->uuid, strlen(m->uuid));
	r = parse_json(use, s1, &b, m);
	if (r) {
		free(b.p);
		return r;
	}
	return finish_layout(&b, m);
}

int luks_meta_parse(const uint8_t *hdr, size_t len, struct luks_meta *m)
{
	int r;

	memset(m, 0, sizeof(*m));
	if (len < L2_BIN_LEN || memcmp(hdr, L1_MAGIC, MAGIC_LEN))
		return -EINVAL;
	switch (hdr[6] << 8 | hdr[7]) {
	case 1: r = parse_luks1(hdr, len, m); break;
	case 2: r = parse_luks2(hdr, len, m); break;
	default: r = -EINVAL;
	}
	if (!r && m->area > len)
		r = -ERANGE;		/* caller must pass the whole area */
	if (!r)
		r = crypto_sha256(hdr, len, m->header);
	if (r)
		memset(m, 0, sizeof(*m));
	return r;
}

void luks_meta_hex(const uint8_t h[32], char out[LUKS_META_HASH_HEX])
{
	hex_encode(h, 32, out);
}
