// SPDX-License-Identifier: GPL-2.0
/* Disk records "disks/<name>.disk"; format in docs/vault-format.md. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "vault/vault_disk.h"
#include "vault/vault_escrow.h"
#include "vault/vault_sealed.h"

#define DISK_PREFIX	"disks/"
#define DISK_SUFFIX	".disk"
#define DISK_REC_MAX	(2 * (DISK_SECRET_MAX + BLOB_OVERHEAD) + (64U << 10))

/* Object name, AAD id (SHA-256 of the object name: names exceed 32 bytes)
 * and the escrow owner "disks/<name>" that binds the key slot. */
struct disk_names {
	char obj[sizeof(DISK_PREFIX) + DISK_NAME_MAX + sizeof(DISK_SUFFIX)];
	char owner[sizeof(DISK_PREFIX) + DISK_NAME_MAX];
	uint8_t id[BLOB_ID_LEN];
};

static int disk_names(const char *name, struct disk_names *n)
{
	if (!disk_name_valid(name))
		return -EINVAL;
	snprintf(n->obj, sizeof(n->obj), DISK_PREFIX "%s" DISK_SUFFIX, name);
	snprintf(n->owner, sizeof(n->owner), DISK_PREFIX "%s", name);
	return crypto_sha256(n->obj, strlen(n->obj), n->id);
}

static int uuid_valid(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (i = 0; pat[i]; i++)
		if (pat[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Caller-filled records may hold unterminated arrays: check before strlen. */
static int strings_terminated(const struct vault_disk_rec *r)
{
	unsigned int i;

	if (!memchr(r->name, 0, sizeof(r->name)) ||
	    !memchr(r->luks_uuid, 0, sizeof(r->luks_uuid)) || r->nmeta > DISK_MAX_META)
		return 0;
	for (i = 0; i < r->nmeta; i++)
		if (!memchr(r->meta_key[i], 0, DISK_META_KEY_MAX) || !r->meta_key[i][0] ||
		    !memchr(r->meta_val[i], 0, DISK_META_VAL_MAX))
			return 0;
	return 1;
}

static int rec_valid(const struct vault_disk_rec *r)
{
	return strings_terminated(r) && disk_name_valid(r->name) && uuid_valid(r->luks_uuid) &&
	       (r->luks_version == 1 || r->luks_version == 2) &&
	       r->size && r->size <= MANIFEST_IMAGE_MAX &&
	       r->chunk_size >= VAULT_CHUNK_MIN && r->chunk_size <= VAULT_CHUNK_MAX &&
	       !(r->chunk_size & (r->chunk_size - 1)) &&
	       r->created >= 0 && r->key_escrowed >= 0;
}

static int key_valid(const struct escrow_slot *k)
{
	return k->kind == ESCROW_KEK && !strcmp(k->name, DISK_KEY_SLOT) &&
	       k->len > BLOB_OVERHEAD && k->len <= DISK_SECRET_MAX + BLOB_OVERHEAD &&
	       k->nwraps >= 1 && k->nwraps <= 2;
}

int vault_disk_set_meta(struct vault_disk_rec *rec, const char *key, const char *val)
{
	unsigned int i;

	if (!*key || strlen(key) >= DISK_META_KEY_MAX || strlen(val) >= DISK_META_VAL_MAX)
		return -EINVAL;
	for (i = 0; i < rec->nmeta && strcmp(rec->meta_key[i], key); i++)
		;
	if (i == DISK_MAX_META)
		return -E2BIG;
	snprintf(rec->meta_key[i], DISK_META_KEY_MAX, "%s", key);
	snprintf(rec->meta_val[i], DISK_META_VAL_MAX, "%s", val);
	if (i == rec->nmeta)
		rec->nmeta++;
	return 0;
}

const char *vault_disk_meta(const struct vault_disk_rec *rec, const char *key)
{
	unsigned int i;

	for (i = 0; i < rec->nmeta; i++)
		if (!strcmp(rec->meta_key[i], key))
			return rec->meta_val[i];
	return NULL;
}

int vault_disk_encode(const struct vault_disk_rec *rec, const struct escrow_slot *key,
		      char **out, size_t *len)
{
	json_object *o, *meta;
	unsigned int i;
	int r;

	if (!rec_valid(rec) || !key_valid(key))
		return -EINVAL;
	o = json_object_new_object();
	meta = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_int(VAULT_FORMAT_VERSION));
	json_object_object_add(o, "name", json_object_new_string(rec->name));
	json_object_object_add(o, "luks_uuid", json_object_new_string(rec->luks_uuid));
	json_object_object_add(o, "luks_version", json_object_new_int(rec->luks_version));
	json_object_object_add(o, "size", json_object_new_int64((int64_t)rec->size));
	json_object_object_add(o, "chunk_size", json_object_new_int64(rec->chunk_size));
	json_object_object_add(o, "created", json_object_new_int64(rec->created));
	json_object_object_add(o, "key_escrowed", json_object_new_int64(rec->key_escrowed));
	json_object_object_add(o, "key", escrow_slot_json(key));
	for (i = 0; i < rec->nmeta; i++)
		json_object_object_add(meta, rec->meta_key[i],
				       json_object_new_string(rec->meta_val[i]));
	json_object_object_add(o, "meta", meta);
	r = vj_dump(o, out, len);
	json_object_put(o);
	return r;
}

static int decode_fields(json_object *o, struct vault_disk_rec *rec)
{
	const char *name, *uuid;
	uint64_t fmt, ver, cs;

	if (vj_u64(o, "format", &fmt))
		return -EUCLEAN;
	if (fmt != VAULT_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	if (vj_str(o, "name", &name) || strlen(name) > DISK_NAME_MAX ||
	    vj_str(o, "luks_uuid", &uuid) || strlen(uuid) >= DISK_UUID_MAX ||
	    vj_u64(o, "luks_version", &ver) || ver > 2 ||
	    vj_u64(o, "size", &rec->size) || vj_u64(o, "chunk_size", &cs) ||
	    cs > VAULT_CHUNK_MAX || vj_i64(o, "created", &rec->created) ||
	    vj_i64(o, "key_escrowed", &rec->key_escrowed))
		return -EUCLEAN;
	snprintf(rec->name, sizeof(rec->name), "%s", name);
	snprintf(rec->luks_uuid, sizeof(rec->luks_uuid), "%s", uuid);
	rec->luks_version = (int)ver;
	rec->chunk_size = (uint32_t)cs;
	return rec_valid(rec) ? 0 : -EUCLEAN;
}

static int decode_meta(json_object *o, struct vault_disk_rec *rec)
{
	json_object *meta;

	if (!json_object_object_get_ex(o, "meta", &meta) ||
	    !json_object_is_type(meta, json_type_object) ||
	    json_object_object_length(meta) > DISK_MAX_META)
		return -EUCLEAN;
	json_object_object_foreach(meta, k, val) {
		if (!json_object_is_type(val, json_type_string) ||
		    vault_disk_set_meta(rec, k, json_object_get_string(val)))
			return -EUCLEAN;
	}
	return 0;
}

int vault_disk_decode(const void *buf, size_t len, struct vault_disk_rec *rec,
		      struct escrow_slot *key)
{
	json_object *o, *k;
	int r;

	memset(rec, 0, sizeof(*rec));
	memset(key, 0, sizeof(*key));
	r = vj_parse(buf, len, &o);
	if (r < 0)
		return r;
	r = decode_fields(o, rec);
	if (!r)
		r = decode_meta(o, rec);
	if (!r)
		r = json_object_object_get_ex(o, "key", &k) ? escrow_slot_decode(k, key) : -EUCLEAN;
	if (!r && !key_valid(key)) {
		escrow_slot_free(key);
		r = -EUCLEAN;
	}
	json_object_put(o);
	return r;
}

int vault_disk_load(struct vault *v, struct blob_ctx *c, const char *name,
		    struct vault_disk_rec *rec, struct escrow_slot *key)
{
	struct disk_names n;
	uint8_t *buf;
	size_t len;
	int r;

	r = disk_names(name, &n);
	if (!r)
		r = vault_get_sealed_id(v, c, BLOB_DISK, n.obj, n.id, DISK_REC_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = vault_disk_decode(buf, len, rec, key);
	free(buf);
	if (!r && strcmp(rec->name, name)) {
		escrow_slot_free(key);
		r = -EUCLEAN;
	}
	return r;
}

int vault_disk_save(struct vault *v, struct blob_ctx *c, const struct vault_disk_rec *rec,
		    const struct escrow_slot *key)
{
	struct disk_names n;
	char *s;
	size_t len;
	int r;

	r = disk_names(rec->name, &n);
	if (!r)
		r = vault_disk_encode(rec, key, &s, &len);
	if (r < 0)
		return r;
	r = vault_put_sealed_id(v, c, BLOB_DISK, n.obj, n.id, s, len);
	if (!r)
		crashpoint("disk.record-written");
	free(s);
	return r;
}

/* The existing record's times and, without a new secret, its key slot. */
static int merge_old(struct vault *v, struct blob_ctx *c, struct vault_disk_rec *rec,
		     struct escrow_slot *key, int new_secret)
{
	struct escrow_slot okey = { 0 };
	struct vault_disk_rec old;
	int r = vault_disk_load(v, c, rec->name, &old, &okey);

	if (r < 0)	/* a new secret may replace a damaged record */
		return new_secret && r != -ENOMEM ? 0 : r;
	rec->created = old.created;
	if (new_secret) {
		escrow_slot_free(&okey);
	} else {
		rec->key_escrowed = old.key_escrowed;
		*key = okey;
	}
	return 0;
}

static int put_locked(struct vault *v, struct blob_ctx *c, struct vault_disk_rec *rec,
		      const uint8_t *secret, size_t secret_len)
{
	struct escrow_slot key = { 0 };
	struct disk_names n;
	int r;

	r = disk_names(rec->name, &n);
	if (!r)
		r = merge_old(v, c, rec, &key, secret != NULL);
	if (!r && secret) {
		r = escrow_seal(v, c, n.owner, DISK_KEY_SLOT, ESCROW_KEK, secret,
				secret_len, &key);
		rec->key_escrowed = time(NULL);
	}
	if (!rec->created)
		rec->created = time(NULL);
	if (!r)
		r = vault_disk_save(v, c, rec, &key);
	escrow_slot_free(&key);
	return r;
}

/* Takes a shared lock unless the caller holds one; *own says to drop it. */
static int lock_shared(struct vault *v, int *own)
{
	int r = 0;

	*own = 0;
	if (!v->lock) {
		r = vault_lock(v, VAULT_LOCK_SHARED);
		*own = !r;
	}
	return r;
}

static int disk_existed(struct vault *v, const char *name)
{
	struct disk_names n;
	uint64_t size;

	return !disk_names(name, &n) && !v->be->ops->size(v->be, n.obj, &size);
}

int vault_disk_put(struct vault *v, const struct vault_disk_rec *rec_in,
		   const uint8_t *secret, size_t secret_len)
{
	struct vault_disk_rec rec = *rec_in;
	struct blob_ctx c;
	int own = 0, existed = 0, r;

	if (!rec_valid(&rec) || (secret && (!secret_len || secret_len > DISK_SECRET_MAX)))
		return -EINVAL;
	r = blob_ctx_init(&c, v);
	if (r < 0)
		return r;
	r = lock_shared(v, &own);
	if (!r && secret)
		existed = disk_existed(v, rec.name);
	if (!r)
		r = put_locked(v, &c, &rec, secret, secret_len);
	/* A new escrowed key is a key change: it goes to the activity log
	 * (the change is made; a failed log write does not undo it). */
	if (!r && secret) {
		char detail[96];

		snprintf(detail, sizeof(detail), "disk %s", rec.name);
		(void)vault_log_event(v, existed ? "key-escrow" : "protect", detail);
	}
	if (own)
		vault_lock_release(v);
	blob_ctx_free(&c);
	return r;
}

static int open_secret(struct vault *v, const char *name, const struct escrow_slot *key,
		       uint8_t **secret, size_t *secret_len)
{
	size_t len = key->len - BLOB_OVERHEAD;
	struct disk_names n;
	uint8_t *out;
	int r;

	r = disk_names(name, &n);
	if (r < 0)
		return r;
	out = secmem_alloc(len);
	if (!out)
		return -ENOMEM;
	r = escrow_open_buf(v, NULL, n.owner, key, out);
	if (r < 0) {
		secmem_free(out);
		return r;
	}
	*secret = out;
	*secret_len = len;
	return 0;
}

int vault_disk_get(struct vault *v, const char *name, struct vault_disk_rec *rec,
		   uint8_t **secret, size_t *secret_len)
{
	struct escrow_slot key = { 0 };
	struct blob_ctx c;
	int r;

	r = blob_ctx_init(&c, v);
	if (r < 0)
		return r;
	r = vault_disk_load(v, &c, name, rec, &key);
	blob_ctx_free(&c);
	if (!r && secret)
		r = open_secret(v, name, &key, secret, secret_len);
	escrow_slot_free(&key);
	return r;
}

int vault_disk_list(struct vault *v, struct name_list *names)
{
	struct name_list l = { 0 };
	size_t i, pl = strlen(DISK_PREFIX), sl = strlen(DISK_SUFFIX);
	int r = backend_list(v->be, DISK_PREFIX, &l);

	for (i = 0; !r && i < l.n; i++) {
		char name[DISK_NAME_MAX + 1];
		size_t n = strlen(l.names[i]);

		if (n <= pl + sl || n - pl - sl > DISK_NAME_MAX ||
		    strcmp(l.names[i] + n - sl, DISK_SUFFIX))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - pl - sl), l.names[i] + pl);
		if (disk_name_valid(name))
			r = name_list_add(names, name);
	}
	name_list_free(&l);
	return r;
}

int vault_disk_delete(struct vault *v, const char *name)
{
	struct disk_names n;
	int own = 0, r;

	r = disk_names(name, &n);
	if (!r)
		r = lock_shared(v, &own);
	if (r < 0)
		return r;
	r = backend_del(v->be, n.obj);
	if (!r)
		crashpoint("disk.record-deleted");
	if (own)
		vault_lock_release(v);
	return r;
}

int vault_disk_for_each_key(struct vault *v,
			    int (*fn)(struct vault *, struct escrow_slot *, void *),
			    void *arg)
{
	struct name_list names = { 0 };
	struct blob_ctx c;
	size_t i;
	int r;

	r = blob_ctx_init(&c, v);
	if (!r)
		r = vault_disk_list(v, &names);
	for (i = 0; !r && i < names.n; i++) {
		struct escrow_slot key = { 0 };
		struct vault_disk_rec rec;

		r = vault_disk_load(v, &c, names.names[i], &rec, &key);
		if (r == -ENOENT) {	/* deleted meanwhile */
			r = 0;
			continue;
		}
		if (!r)
			r = fn(v, &key, arg);
		if (r > 0)
			r = vault_disk_save(v, &c, &rec, &key);
		escrow_slot_free(&key);
	}
	name_list_free(&names);
	blob_ctx_free(&c);
	return r;
}
