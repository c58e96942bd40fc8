// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_keys.h"

static struct vault_keys *keys_alloc(void)
{
	struct vault_keys *k = calloc(1, sizeof(*k));

	if (k && !(k->mac = secmem_alloc(CRYPTO_KEY_LEN))) {
		free(k);
		return NULL;
	}
	return k;
}

int keys_create(struct vault_kek *kek, enum kek_mode mode, const uint8_t *vault_id,
		const char *kek_file, struct vault_keys **out)
{
	struct vault_keys *k;
	int r;

	if (mode == KEK_MODE_VAULT && kek->type != KEK_TYPE_AES)
		return -EINVAL;
	k = keys_alloc();
	if (!k)
		return -ENOMEM;
	k->mode = mode;
	k->gen = 1;
	memcpy(k->vault_id, vault_id, VAULT_ID_LEN);
	memcpy(k->fp, kek->fp, KEK_FP_LEN);
	snprintf(k->kek_file, sizeof(k->kek_file), "%s", kek_file);
	k->ndeks = 1;
	k->dek_id[0] = 1;
	k->cur_dek = 1;
	k->dek[0] = secmem_alloc(CRYPTO_KEY_LEN);
	r = k->dek[0] ? crypto_random(k->dek[0], CRYPTO_KEY_LEN) : -ENOMEM;
	if (!r)
		r = crypto_random(k->mac, CRYPTO_KEY_LEN);
	if (r < 0) {
		keys_free(k);
		return r;
	}
	k->kek = kek;
	*out = k;
	return 0;
}

/*
 * Wrap version 2: the KEK wraps "cryptsnap-key-v2" | role | DEK id |
 * vault id | key, so a wrapped DEK does not open as the MAC key, as
 * another DEK or in another vault (RFC 5649 and OAEP both authenticate the
 * whole payload).  Version 1 (older keyrings) wrapped the bare key.
 */
static const char wrap_label[16] = "cryptsnap-key-v2";
#define WRAP_PAYLOAD	(sizeof(wrap_label) + 2 + VAULT_ID_LEN + CRYPTO_KEY_LEN)
enum { ROLE_DEK = 'D', ROLE_MAC = 'M' };

static void wrap_payload(const struct vault_keys *k, uint8_t role, uint8_t id,
			 uint8_t *p)
{
	memcpy(p, wrap_label, sizeof(wrap_label));
	p[sizeof(wrap_label)] = role;
	p[sizeof(wrap_label) + 1] = id;
	memcpy(p + sizeof(wrap_label) + 2, k->vault_id, VAULT_ID_LEN);
}

static int add_wrapped(const struct vault_keys *k, json_object *o, const char *key,
		       uint8_t role, uint8_t id, const uint8_t *secret)
{
	uint8_t w[KEK_WRAP_MAX], *p = secmem_alloc(WRAP_PAYLOAD);
	size_t n;
	int r;

	if (!p)
		return -ENOMEM;
	wrap_payload(k, role, id, p);
	memcpy(p + WRAP_PAYLOAD - CRYPTO_KEY_LEN, secret, CRYPTO_KEY_LEN);
	r = kek_wrap(k->kek, p, WRAP_PAYLOAD, w, sizeof(w), &n);
	secmem_free(p);
	if (r < 0)
		return r;
	vj_add_hex(o, key, w, n);
	return 0;
}

int keys_encode(const struct vault_keys *k, char **out, size_t *len)
{
	json_object *o = json_object_new_object(), *deks = json_object_new_array();
	unsigned int i;
	int r;

	json_object_object_add(o, "format", json_object_new_int(VAULT_FORMAT_VERSION));
	json_object_object_add(o, "wrap", json_object_new_int(2));
	json_object_object_add(o, "mode", json_object_new_string(
		k->mode == KEK_MODE_CUSTOMER ? "customer" : "vault"));
	json_object_object_add(o, "kek_gen", json_object_new_int64(k->gen));
	vj_add_hex(o, "kek_fingerprint", k->fp, KEK_FP_LEN);
	/* No "kek_file": where the KEK lives is the host's business. */
	json_object_object_add(o, "current_dek", json_object_new_int(k->cur_dek));
	r = add_wrapped(k, o, "mac_key", ROLE_MAC, 0, k->mac);
	for (i = 0; !r && i < k->ndeks; i++) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "id", json_object_new_int(k->dek_id[i]));
		json_object_object_add(d, "sealed", json_object_new_int64((int64_t)k->sealed[i]));
		r = add_wrapped(k, d, "wrapped", ROLE_DEK, k->dek_id[i], k->dek[i]);
		json_object_array_add(deks, d);
	}
	json_object_object_add(o, "deks", deks);
	if (!r)
		r = vj_dump(o, out, len);
	json_object_put(o);
	return r;
}

/* Keyrings of older builds also name a "kek_file": it is not read. */
static int parse_header(json_object *o, struct vault_keys *k)
{
	const char *mode;
	uint64_t fmt, gen, cur, wrap = 1;
	json_object *x;

	if (json_object_object_get_ex(o, "wrap", &x) &&
	    (vj_u64(o, "wrap", &wrap) || (wrap != 1 && wrap != 2)))
		return -EUCLEAN;
	k->legacy_wraps = wrap == 1;
	if (vj_u64(o, "format", &fmt) || vj_str(o, "mode", &mode) ||
	    vj_u64(o, "kek_gen", &gen) || vj_hex(o, "kek_fingerprint", k->fp, KEK_FP_LEN) ||
	    vj_u64(o, "current_dek", &cur))
		return -EUCLEAN;
	if (fmt != VAULT_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	if (!strcmp(mode, "vault"))
		k->mode = KEK_MODE_VAULT;
	else if (!strcmp(mode, "customer"))
		k->mode = KEK_MODE_CUSTOMER;
	else
		return -EUCLEAN;
	if (!gen || gen > UINT32_MAX || !cur || cur > 255)
		return -EUCLEAN;
	k->gen = (uint32_t)gen;
	k->cur_dek = (uint8_t)cur;
	return 0;
}

static int unwrap_hex(const struct vault_keys *k, json_object *o, const char *key,
		      uint8_t role, uint8_t id, uint8_t *secret)
{
	uint8_t *w, *p = NULL, want[WRAP_PAYLOAD - CRYPTO_KEY_LEN];
	size_t n, got = 0;
	const char *s;
	int r;

	if (vj_str(o, key, &s) || hex_decode_alloc(s, &w, &n))
		return -EUCLEAN;
	if (k->legacy_wraps) {
		r = kek_unwrap(k->kek, w, n, secret, &got, CRYPTO_KEY_LEN);
		free(w);
		return r == -EBADMSG || (!r && got != CRYPTO_KEY_LEN) ? -EKEYREJECTED : r;
	}
	p = secmem_alloc(WRAP_PAYLOAD);
	r = p ? kek_unwrap(k->kek, w, n, p, &got, WRAP_PAYLOAD) : -ENOMEM;
	free(w);
	wrap_payload(k, role, id, want);
	if (r == -EBADMSG || (!r && (got != WRAP_PAYLOAD || memcmp(p, want, sizeof(want)))))
		r = -EKEYREJECTED;
	if (!r)
		memcpy(secret, p + sizeof(want), CRYPTO_KEY_LEN);
	secmem_free(p);
	return r;
}

static int parse_deks(json_object *o, struct vault_keys *k, int unwrap)
{
	json_object *deks;
	size_t n, i;
	int r = 0, cur_found = 0;

	if (vj_array(o, "deks", &deks, &n) || !n || n > VAULT_MAX_DEKS)
		return -EUCLEAN;
	for (i = 0; !r && i < n; i++) {
		json_object *d = json_object_array_get_idx(deks, i);
		uint64_t id;

		json_object *x;
		uint64_t sealed = 0;
		size_t j;

		if (!json_object_is_type(d, json_type_object) ||
		    vj_u64(d, "id", &id) || !id || id > 255 ||
		    (json_object_object_get_ex(d, "sealed", &x) && vj_u64(d, "sealed", &sealed)))
			return -EUCLEAN;
		for (j = 0; j < i; j++)
			if (k->dek_id[j] == id)
				return -EUCLEAN;
		k->dek_id[i] = (uint8_t)id;
		k->sealed[i] = sealed;
		cur_found |= id == k->cur_dek;
		k->ndeks = (unsigned int)i + 1;
		if (!unwrap)
			continue;
		k->dek[i] = secmem_alloc(CRYPTO_KEY_LEN);
		r = k->dek[i] ? unwrap_hex(k, d, "wrapped", ROLE_DEK, (uint8_t)id, k->dek[i]) :
				-ENOMEM;
	}
	if (!r && !cur_found)
		r = -EUCLEAN;
	return r;
}

static int keys_parse(const void *buf, size_t len, const uint8_t *vault_id,
		      struct vault_kek *kek, const char *kek_file, struct vault_keys **out)
{
	struct vault_keys *k = keys_alloc();
	json_object *o = NULL;
	int r;

	if (!k) {
		kek_free(kek);
		return -ENOMEM;
	}
	k->kek = kek;
	if (vault_id)
		memcpy(k->vault_id, vault_id, VAULT_ID_LEN);
	if (kek_file)
		snprintf(k->kek_file, sizeof(k->kek_file), "%s", kek_file);
	r = vj_parse(buf, len, &o);
	if (!r)
		r = parse_header(o, k);
	/* The fingerprint check comes before any unwrap; a vault-managed
	 * keyring is only ever wrapped by an AES key. */
	if (!r && kek && ((k->mode == KEK_MODE_VAULT && kek->type != KEK_TYPE_AES) ||
			  memcmp(kek->fp, k->fp, KEK_FP_LEN)))
		r = -EKEYREJECTED;
	if (!r && kek)
		r = unwrap_hex(k, o, "mac_key", ROLE_MAC, 0, k->mac);
	if (!r)
		r = parse_deks(o, k, kek != NULL);
	json_object_put(o);
	if (r < 0) {
		keys_free(k);
		return r;
	}
	*out = k;
	return 0;
}

int keys_peek(const void *buf, size_t len, struct vault_keys **out)
{
	return keys_parse(buf, len, NULL, NULL, NULL, out);
}

int keys_open(const void *buf, size_t len, const uint8_t *vault_id,
	      struct vault_kek *kek, const char *kek_file, struct vault_keys **out)
{
	if (!kek)
		return -EINVAL;
	return keys_parse(buf, len, vault_id, kek, kek_file, out);
}

int keys_add_dek(struct vault_keys *k)
{
	unsigned int i, id = 0;
	uint8_t *dek;
	int r;

	for (i = 0; i < k->ndeks; i++)
		id = MAX(id, k->dek_id[i]);
	if (k->ndeks >= VAULT_MAX_DEKS || id >= 255)
		return -ENOSPC;
	dek = secmem_alloc(CRYPTO_KEY_LEN);
	if (!dek)
		return -ENOMEM;
	r = crypto_random(dek, CRYPTO_KEY_LEN);
	if (r < 0) {
		secmem_free(dek);
		return r;
	}
	k->dek[k->ndeks] = dek;
	k->dek_id[k->ndeks] = (uint8_t)(id + 1);
	k->sealed[k->ndeks] = 0;
	k->cur_dek = (uint8_t)(id + 1);
	k->ndeks++;
	return 0;
}

void keys_drop_dek(struct vault_keys *k, uint8_t prev_cur)
{
	k->ndeks--;
	secmem_free(k->dek[k->ndeks]);
	k->dek[k->ndeks] = NULL;
	k->cur_dek = prev_cur;
}

static const char digest_label[] = "cryptsnap-keyring-digest-v1";

int keys_digest(const struct vault_keys *k, uint8_t out[KEYS_DIGEST_LEN])
{
	uint8_t *buf, *p;
	size_t len = sizeof(digest_label) - 1 + 1 + 4 + KEK_FP_LEN + 1 +
		     VAULT_MAX_DEKS * (1 + CRYPTO_KEY_LEN);
	struct crypto_hmac *h;
	unsigned int i;
	int r;

	buf = secmem_alloc(len);
	if (!buf)
		return -ENOMEM;
	p = buf;
	memcpy(p, digest_label, sizeof(digest_label) - 1);
	p += sizeof(digest_label) - 1;
	*p++ = (uint8_t)k->mode;
	put_le32(p, k->gen);
	p += 4;
	memcpy(p, k->fp, KEK_FP_LEN);
	p += KEK_FP_LEN;
	*p++ = k->cur_dek;
	for (i = 0; i < k->ndeks; i++) {
		*p++ = k->dek_id[i];
		memcpy(p, k->dek[i], CRYPTO_KEY_LEN);
		p += CRYPTO_KEY_LEN;
	}
	r = crypto_hmac_new(k->mac, &h);
	if (!r) {
		r = crypto_hmac(h, NULL, 0, buf, (size_t)(p - buf), out);
		crypto_hmac_free(h);
	}
	secmem_free(buf);
	return r;
}

const uint8_t *keys_dek(const struct vault_keys *k, uint8_t id)
{
	unsigned int i;

	for (i = 0; i < k->ndeks; i++)
		if (k->dek_id[i] == id)
			return k->dek[i];
	return NULL;
}

void keys_free(struct vault_keys *k)
{
	unsigned int i;

	if (!k)
		return;
	for (i = 0; i < VAULT_MAX_DEKS; i++)
		secmem_free(k->dek[i]);
	secmem_free(k->mac);
	kek_free(k->kek);
	free(k);
}
