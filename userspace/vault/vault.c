// SPDX-License-Identifier: GPL-2.0
/* Vault creation, opening and unlocking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_keys.h"

#define CONFIG_OBJECT "config.json"
#define CONFIG_MAX (64 << 10)

const char *vault_key_dir(void)
{
	const char *d = getenv("CRYPTSNAP_KEY_DIR");

	return d && *d ? d : "/var/lib/cryptsnap/keys";
}

static int config_encode(const struct vault *v, char **out, size_t *len)
{
	json_object *o = json_object_new_object();
	int r;

	json_object_object_add(o, "kind", json_object_new_string("cryptsnap-vault"));
	json_object_object_add(o, "format", json_object_new_int(VAULT_FORMAT_VERSION));
	vj_add_hex(o, "vault_id", v->id, VAULT_ID_LEN);
	json_object_object_add(o, "chunk_size", json_object_new_int64(v->chunk_size));
	json_object_object_add(o, "seg_chunks", json_object_new_int64(v->seg_chunks));
	json_object_object_add(o, "pack_size", json_object_new_int64(v->pack_size));
	json_object_object_add(o, "created", json_object_new_int64(v->created));
	r = vj_dump(o, out, len);
	json_object_put(o);
	return r;
}

static int is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int config_decode(struct vault *v, const void *buf, size_t len)
{
	uint64_t fmt, cs, sc, ps;
	json_object *o;
	const char *kind;
	int r;

	r = vj_parse(buf, len, &o);
	if (r < 0)
		return r;
	r = -EUCLEAN;
	if (vj_str(o, "kind", &kind) || strcmp(kind, "cryptsnap-vault") ||
	    vj_u64(o, "format", &fmt))
		goto out;
	r = -EPROTONOSUPPORT;
	if (fmt != VAULT_FORMAT_VERSION)
		goto out;
	r = -EUCLEAN;
	if (vj_hex(o, "vault_id", v->id, VAULT_ID_LEN) || vj_u64(o, "chunk_size", &cs) ||
	    vj_u64(o, "seg_chunks", &sc) || vj_u64(o, "pack_size", &ps) ||
	    vj_i64(o, "created", &v->created))
		goto out;
	if (!is_pow2(cs) || cs < VAULT_CHUNK_MIN || cs > VAULT_CHUNK_MAX ||
	    !is_pow2(sc) || sc < 64 || sc > 65536 ||
	    ps < cs + 64 || ps > VAULT_PACK_MAX)
		goto out;
	v->chunk_size = (uint32_t)cs;
	v->seg_chunks = (uint32_t)sc;
	v->pack_size = (uint32_t)ps;
	hex_encode(v->id, VAULT_ID_LEN, v->id_hex);
	r = 0;
out:
	json_object_put(o);
	return r;
}

static int put_json(struct backend *be, const char *name, int (*enc)(const void *, char **, size_t *),
		    const void *obj)
{
	char *s;
	size_t n;
	int r = enc(obj, &s, &n);

	if (r < 0)
		return r;
	r = backend_put(be, name, s, n);
	free(s);
	return r;
}

static int enc_config(const void *v, char **s, size_t *n)
{
	return config_encode(v, s, n);
}

static int enc_keys(const void *k, char **s, size_t *n)
{
	return keys_encode(k, s, n);
}

static int init_kek(struct vault *v, const struct vault_init_opts *o,
		    char *path, size_t pathlen, struct vault_kek **kek)
{
	const char *dir = o->key_dir ? o->key_dir : vault_key_dir();
	int r;

	if (o->kek_file) {
		snprintf(path, pathlen, "%s", o->kek_file);
		if (!realpath(o->kek_file, path))
			return -errno;
		return kek_load(path, kek);
	}
	r = mkdir_parents_at(AT_FDCWD, dir);
	if (r < 0)
		return r;
	return kek_generate(dir, v->id_hex, 1, path, pathlen, kek);
}

static int vault_empty(struct backend *be)
{
	struct name_list l = { 0 };
	size_t i, n = 0;
	int r = backend_list(be, "", &l);

	for (i = 0; !r && i < l.n; i++)
		n += strncmp(l.names[i], "tmp/", 4) != 0;
	name_list_free(&l);
	return r < 0 ? r : n ? -EEXIST : 0;
}

int vault_init(const char *location, const struct vault_init_opts *o,
	       char *kek_path, size_t kek_path_len)
{
	struct vault v = { 0 };
	struct vault_kek *kek = NULL;
	struct vault_keys *keys = NULL;
	int r;

	v.chunk_size = o->chunk_size ? o->chunk_size : VAULT_CHUNK_DEFAULT;
	if (!is_pow2(v.chunk_size) || v.chunk_size < VAULT_CHUNK_MIN ||
	    v.chunk_size > VAULT_CHUNK_MAX)
		return -EINVAL;
	v.seg_chunks = VAULT_SEG_CHUNKS;
	v.pack_size = MAX(VAULT_PACK_DEFAULT, 2 * v.chunk_size);
	v.created = time(NULL);
	r = backend_open(location, 1, &v.be);
	if (r < 0)
		return r;
	r = vault_empty(v.be);
	if (!r)
		r = crypto_random(v.id, VAULT_ID_LEN);
	hex_encode(v.id, VAULT_ID_LEN, v.id_hex);
	if (!r)
		r = init_kek(&v, o, kek_path, kek_path_len, &kek);
	if (!r)
		r = keys_create(kek, kek_path, &keys);
	else
		kek_free(kek);
	if (!r)
		r = put_json(v.be, KEYS_OBJECT, enc_keys, keys);
	/* The config is written last: its presence means the vault exists. */
	if (!r)
		r = put_json(v.be, CONFIG_OBJECT, enc_config, &v);
	if (!r) {
		v.keys = keys;
		vault_log_event(&v, "init", kek_mode_name(keys->mode));
	}
	keys_free(keys);
	backend_close(v.be);
	return r;
}

int vault_open(const char *location, struct vault **out)
{
	struct vault *v = calloc(1, sizeof(*v));
	void *buf = NULL;
	size_t len;
	int r;

	if (!v)
		return -ENOMEM;
	r = backend_open(location, 0, &v->be);
	if (!r)
		r = backend_get(v->be, CONFIG_OBJECT, CONFIG_MAX, &buf, &len);
	if (r == -EFBIG)
		r = -EUCLEAN;
	if (!r)
		r = config_decode(v, buf, len);
	free(buf);
	if (r < 0) {
		vault_close(v);
		return r;
	}
	*out = v;
	return 0;
}

int vault_unlock(struct vault *v, const char *kek_file)
{
	void *buf;
	size_t len;
	int r;

	r = backend_get(v->be, KEYS_OBJECT, CONFIG_MAX, &buf, &len);
	if (r == -ENOENT || r == -EFBIG)
		r = -EUCLEAN;
	if (r < 0)
		return r;
	r = keys_open(buf, len, kek_file, &v->keys);
	free(buf);
	return r;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	vault_lock_release(v);
	keys_free(v->keys);
	backend_close(v->be);
	free(v);
}
