// SPDX-License-Identifier: GPL-2.0
/* Vault creation, opening and unlocking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_dek.h"
#include "vault/vault_keys.h"
#include "vault/vault_pin.h"
#include "vault/vault_softdel.h"

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
	json_object_object_add(o, "deleted_grace", json_object_new_int64(v->deleted_grace));
	if (v->retention_lock)
		json_object_object_add(o, "retention_lock", json_object_new_boolean(1));
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
	json_object *o, *x;
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
	/* Optional (vaults of older builds lack them): the defaults. */
	v->deleted_grace = VAULT_GRACE_DEFAULT;
	if (json_object_object_get_ex(o, "deleted_grace", &x) &&
	    (vj_i64(o, "deleted_grace", &v->deleted_grace) || v->deleted_grace < 0 ||
	     v->deleted_grace > VAULT_GRACE_MAX))
		goto out;
	if (json_object_object_get_ex(o, "retention_lock", &x)) {
		if (!json_object_is_type(x, json_type_boolean))
			goto out;
		v->retention_lock = json_object_get_boolean(x);
	}
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

int vault_config_write(struct vault *v)
{
	return put_json(v->be, CONFIG_OBJECT, enc_config, v);
}

static int enc_keys(const void *k, char **s, size_t *n)
{
	return keys_encode(k, s, n);
}

/* The KEK of a new vault: named (customer-managed, RSA or AES) or a new
 * vault-managed AES key file.  path receives its absolute path. */
static int init_kek(struct vault *v, const struct vault_init_opts *o,
		    char *path, size_t pathlen, struct vault_kek **kek)
{
	const char *dir = o->key_dir ? o->key_dir : vault_key_dir();
	char tmp[PATH_MAX];
	int r;

	if (o->kek_file) {
		if (pathlen < PATH_MAX || !realpath(o->kek_file, path))
			return pathlen < PATH_MAX ? -ENAMETOOLONG : -errno;
		return kek_load(path, kek);
	}
	r = mkdir_parents_at(AT_FDCWD, dir);
	if (!r)
		r = kek_generate(dir, v->id_hex, 1, tmp, sizeof(tmp), kek);
	if (r < 0)
		return r;
	if (pathlen < PATH_MAX || !realpath(tmp, path)) {
		r = pathlen < PATH_MAX ? -ENAMETOOLONG : -errno;
		kek_free(*kek);
		*kek = NULL;
		unlink(tmp);
	}
	return r;
}

/* The host pins the new vault's KEK and keyring before the vault exists. */
static int init_pin(const struct vault *v, const struct vault_keys *keys)
{
	struct vault_pin pin = { 0 };
	int r = vault_pin_from_keys(keys, &pin.cur);

	return r ? r : vault_pin_save(v, &pin);
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
	v.deleted_grace = o->grace_set ? o->deleted_grace : VAULT_GRACE_DEFAULT;
	v.retention_lock = !!o->retention_lock;
	if (v.deleted_grace < 0 || v.deleted_grace > VAULT_GRACE_MAX)
		return -EINVAL;
	r = backend_open(location, 1, &v.be);
	if (r < 0)
		return r;
	r = vault_empty(v.be);
	if (!r)
		r = crypto_random(v.id, VAULT_ID_LEN);
	hex_encode(v.id, VAULT_ID_LEN, v.id_hex);
	if (!r)
		r = init_kek(&v, o, kek_path, kek_path_len, &kek);
	if (!r) {
		r = keys_create(kek, o->kek_file ? KEK_MODE_CUSTOMER : KEK_MODE_VAULT,
				v.id, kek_path, &keys);
		if (r < 0)
			kek_free(kek);
	}
	if (!r)
		r = init_pin(&v, keys);
	if (!r)
		r = put_json(v.be, KEYS_OBJECT, enc_keys, keys);
	/* The config is written last: its presence means the vault exists. */
	if (!r)
		r = vault_config_write(&v);
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
	v->grace_override = -1;
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

/*
 * Which KEK file and pin entry open this keyring.  With a pin, the keyring
 * must be the pinned one (or the one a rotation of this host was switching
 * to); without one, a vault-managed vault is pinned from this host's own
 * key file named after the vault id, and a customer-managed vault only
 * from a KEK named by the caller.  Nothing here comes from the vault but
 * the generation, which only picks among this vault's own key files.
 */
static int unlock_plan(struct vault *v, const struct vault_keys *hdr, const char *kek_file,
		       const struct vault_pin *pin, int pinned, char path[PATH_MAX],
		       const struct pin_kek **want)
{
	char tmp[PATH_MAX];

	*want = NULL;
	if (pinned) {
		if (vault_pin_matches(&pin->cur, hdr))
			*want = &pin->cur;
		else if (pin->has_next && vault_pin_matches(&pin->next, hdr))
			*want = &pin->next;
		else
			return -EKEYREVOKED;
		if (!kek_file) {
			snprintf(path, PATH_MAX, "%s", (*want)->file);
			return 0;
		}
	}
	if (kek_file)
		return realpath(kek_file, path) ? 0 : -errno;
	if (hdr->mode == KEK_MODE_CUSTOMER)
		return -ENOKEY;
	if (kek_path(vault_key_dir(), v->id_hex, hdr->gen, tmp, sizeof(tmp)) < 0)
		return -ENAMETOOLONG;
	if (!realpath(tmp, path))
		return errno == ENOENT ? -ENOKEY : -errno;
	return 0;
}

/* A vault-managed keyring opened with --kek on a host without a pin: the
 * file must be a vault-managed key file of this vault and generation
 * (wherever --key-dir put it); anything else is the customer's key,
 * which is what older builds wrongly recorded as vault-managed. */
static enum kek_mode first_pin_mode(const struct vault *v, const struct vault_keys *k)
{
	const char *base = strrchr(k->kek_file, '/');
	char want[2 * VAULT_ID_LEN + 16];

	if (k->mode == KEK_MODE_CUSTOMER)
		return KEK_MODE_CUSTOMER;
	snprintf(want, sizeof(want), "%s-%u.kek", v->id_hex, k->gen);
	return base && !strcmp(base + 1, want) ? KEK_MODE_VAULT : KEK_MODE_CUSTOMER;
}

/* After the unwrap: the host's mode wins over the keyring's, the digest
 * of the keys must be the pinned one; a first pin is written. */
static int unlock_pinned(struct vault *v, struct vault_pin *pin, int pinned,
			 const struct pin_kek *want)
{
	struct pin_kek got;
	int r;

	v->keys->mode = pinned ? want->mode : first_pin_mode(v, v->keys);
	r = vault_pin_from_keys(v->keys, &got);
	if (r < 0)
		return r;
	if (!pinned) {
		pin->cur = got;
		return vault_pin_save(v, pin);
	}
	/* A DEK roll keeps generation and fingerprint: cur and next differ
	 * only in the digest. */
	if (want == &pin->cur && memcmp(got.digest, want->digest, KEYS_DIGEST_LEN) &&
	    pin->has_next && vault_pin_matches(&pin->next, v->keys) &&
	    !memcmp(got.digest, pin->next.digest, KEYS_DIGEST_LEN))
		want = &pin->next;
	if (memcmp(got.digest, want->digest, KEYS_DIGEST_LEN) || got.type != want->type)
		return -EKEYREVOKED;
	snprintf(v->keys->kek_file, sizeof(v->keys->kek_file), "%s", want->file);
	if (want == &pin->cur)
		return 0;
	/* The rotation this host started committed; its pin did not. */
	if (pin->cur.mode == KEK_MODE_VAULT && strcmp(pin->cur.file, pin->next.file))
		snprintf(pin->retired, sizeof(pin->retired), "%s", pin->cur.file);
	pin->cur = pin->next;
	pin->has_next = 0;
	return vault_pin_save(v, pin);
}

int vault_unlock(struct vault *v, const char *kek_file)
{
	const struct pin_kek *want;
	struct vault_keys *hdr = NULL;
	struct vault_kek *kek = NULL;
	struct vault_pin pin;
	char path[PATH_MAX];
	int pinned = 0, r;
	void *buf;
	size_t len;

	r = backend_get(v->be, KEYS_OBJECT, KEYS_MAX, &buf, &len);
	if (r == -ENOENT || r == -EFBIG)
		r = -EUCLEAN;
	if (r < 0)
		return r;
	r = keys_peek(buf, len, &hdr);
	if (!r) {
		r = vault_pin_load(v, &pin);
		pinned = !r;
		if (r == -ENOENT)
			r = 0;
		else if (r == -EPERM || r == -EUCLEAN)
			r = -EBADE;	/* the pin, not the vault or a key */
	}
	if (!r)
		r = unlock_plan(v, hdr, kek_file, &pin, pinned, path, &want);
	if (!r)
		r = kek_load(path, &kek);
	if (!r && want && memcmp(kek->fp, want->fp, KEK_FP_LEN)) {
		kek_free(kek);
		r = -EKEYREJECTED;
	}
	if (!r)
		r = keys_open(buf, len, v->id, kek, path, &v->keys);
	if (!r)
		r = unlock_pinned(v, &pin, pinned, want);
	if (!r)
		r = vault_softdel_pin(v);
	if (r < 0) {
		keys_free(v->keys);
		v->keys = NULL;
	}
	keys_free(hdr);
	free(buf);
	return r;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	/* Blobs sealed by this process count against the DEK's budget. */
	vault_dek_usage_flush(v);
	vault_lock_release(v);
	keys_free(v->keys);
	backend_close(v->be);
	free(v);
}
