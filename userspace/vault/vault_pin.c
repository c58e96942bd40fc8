// SPDX-License-Identifier: GPL-2.0
/* The host's pin of a vault's KEK and keyring (vault_pin.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/disk_state.h"
#include "vault/vault_pin.h"

#define PIN_MAX		(64 << 10)

static int pin_dir(const struct vault *v, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/vaults/%s", disk_state_dir(), v->id_hex);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vault_pin_path(const struct vault *v, char *out, size_t len)
{
	char dir[PATH_MAX];
	int n, r = pin_dir(v, dir, sizeof(dir));

	if (r < 0)
		return r;
	n = snprintf(out, len, "%s/%s", dir, PIN_FILE);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static json_object *entry_json(const struct pin_kek *e)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(
		e->mode == KEK_MODE_CUSTOMER ? "customer" : "vault"));
	json_object_object_add(o, "type", json_object_new_string(
		e->type == KEK_TYPE_RSA ? "rsa" : "aes"));
	json_object_object_add(o, "gen", json_object_new_int64(e->gen));
	vj_add_hex(o, "fingerprint", e->fp, KEK_FP_LEN);
	vj_add_hex(o, "keyring", e->digest, KEYS_DIGEST_LEN);
	json_object_object_add(o, "file", json_object_new_string(e->file));
	return o;
}

static int entry_parse(json_object *o, struct pin_kek *e)
{
	const char *mode, *type, *file;
	uint64_t gen;

	if (!json_object_is_type(o, json_type_object) ||
	    vj_str(o, "mode", &mode) || vj_str(o, "type", &type) ||
	    vj_u64(o, "gen", &gen) || vj_hex(o, "fingerprint", e->fp, KEK_FP_LEN) ||
	    vj_hex(o, "keyring", e->digest, KEYS_DIGEST_LEN) || vj_str(o, "file", &file))
		return -EUCLEAN;
	if (!strcmp(mode, "vault"))
		e->mode = KEK_MODE_VAULT;
	else if (!strcmp(mode, "customer"))
		e->mode = KEK_MODE_CUSTOMER;
	else
		return -EUCLEAN;
	if (!strcmp(type, "aes"))
		e->type = KEK_TYPE_AES;
	else if (!strcmp(type, "rsa"))
		e->type = KEK_TYPE_RSA;
	else
		return -EUCLEAN;
	if (!gen || gen > UINT32_MAX || file[0] != '/' || strlen(file) >= PATH_MAX ||
	    (e->mode == KEK_MODE_VAULT && e->type != KEK_TYPE_AES))
		return -EUCLEAN;
	e->gen = (uint32_t)gen;
	snprintf(e->file, sizeof(e->file), "%s", file);
	return 0;
}

static int pin_decode(const struct vault *v, const void *buf, size_t len,
		      struct vault_pin *p)
{
	uint8_t id[VAULT_ID_LEN];
	json_object *o, *x;
	const char *ret;
	uint64_t fmt;
	int r;

	r = vj_parse(buf, len, &o);
	if (r < 0)
		return r;
	r = -EUCLEAN;
	if (vj_u64(o, "format", &fmt) || fmt != 1 ||
	    vj_hex(o, "vault_id", id, VAULT_ID_LEN) || memcmp(id, v->id, VAULT_ID_LEN) ||
	    !json_object_object_get_ex(o, "kek", &x) || entry_parse(x, &p->cur))
		goto out;
	if (json_object_object_get_ex(o, "next", &x)) {
		json_object *g;

		if (entry_parse(x, &p->next) ||
		    !json_object_object_get_ex(x, "generated", &g) ||
		    !json_object_is_type(g, json_type_boolean))
			goto out;
		p->has_next = 1;
		p->next_generated = json_object_get_boolean(g);
	}
	if (json_object_object_get_ex(o, "log", &x)) {
		if (!json_object_is_type(x, json_type_object) ||
		    vj_u64(x, "seq", &p->log_seq) || !p->log_seq ||
		    vj_hex(x, "mac", p->log_mac, sizeof(p->log_mac)))
			goto out;
	}
	if (json_object_object_get_ex(o, "retention", &x)) {
		json_object *l;

		if (!json_object_is_type(x, json_type_object) ||
		    vj_i64(x, "deleted_grace", &p->deleted_grace) ||
		    p->deleted_grace < 0 || p->deleted_grace > VAULT_GRACE_MAX ||
		    !json_object_object_get_ex(x, "locked", &l) ||
		    !json_object_is_type(l, json_type_boolean))
			goto out;
		p->has_retention = 1;
		p->retention_lock = json_object_get_boolean(l);
	}
	if (json_object_object_get_ex(o, "retired", &x)) {
		if (vj_str(o, "retired", &ret) || ret[0] != '/' || strlen(ret) >= PATH_MAX)
			goto out;
		snprintf(p->retired, sizeof(p->retired), "%s", ret);
	}
	r = 0;
out:
	json_object_put(o);
	return r;
}

int vault_pin_load(const struct vault *v, struct vault_pin *p)
{
	char path[PATH_MAX], buf[PIN_MAX];
	struct stat st;
	ssize_t n;
	int fd, r;

	memset(p, 0, sizeof(*p));
	r = vault_pin_path(v, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EUCLEAN;
	}
	if ((st.st_mode & 022) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return r;
	if ((size_t)n >= sizeof(buf))
		return -EUCLEAN;
	return pin_decode(v, buf, (size_t)n, p);
}

int vault_pin_save(const struct vault *v, const struct vault_pin *in)
{
	json_object *o = json_object_new_object(), *next;
	struct vault_pin on_disk, merged = *in;
	const struct vault_pin *p = &merged;
	char dir[PATH_MAX], tmp[64], *s;
	size_t n;
	int dfd, r;

	/* The log anchor only moves forward, whoever saves the pin. */
	if (!vault_pin_load(v, &on_disk) && on_disk.log_seq > merged.log_seq) {
		merged.log_seq = on_disk.log_seq;
		memcpy(merged.log_mac, on_disk.log_mac, sizeof(merged.log_mac));
	}
	/* A retention lock this host pinned stays, and its grace only grows. */
	if (on_disk.has_retention && on_disk.retention_lock) {
		if (!merged.has_retention || merged.deleted_grace < on_disk.deleted_grace)
			merged.deleted_grace = on_disk.deleted_grace;
		merged.has_retention = merged.retention_lock = 1;
	}

	json_object_object_add(o, "format", json_object_new_int(1));
	vj_add_hex(o, "vault_id", v->id, VAULT_ID_LEN);
	json_object_object_add(o, "kek", entry_json(&p->cur));
	if (p->has_next) {
		next = entry_json(&p->next);
		json_object_object_add(next, "generated",
				       json_object_new_boolean(p->next_generated));
		json_object_object_add(o, "next", next);
	}
	if (p->retired[0])
		json_object_object_add(o, "retired", json_object_new_string(p->retired));
	if (p->log_seq) {
		json_object *l = json_object_new_object();

		json_object_object_add(l, "seq", json_object_new_int64((int64_t)p->log_seq));
		vj_add_hex(l, "mac", p->log_mac, sizeof(p->log_mac));
		json_object_object_add(o, "log", l);
	}
	if (p->has_retention) {
		json_object *l = json_object_new_object();

		json_object_object_add(l, "deleted_grace", json_object_new_int64(p->deleted_grace));
		json_object_object_add(l, "locked", json_object_new_boolean(p->retention_lock));
		json_object_object_add(o, "retention", l);
	}
	r = vj_dump(o, &s, &n);
	json_object_put(o);
	if (r < 0)
		return r;
	r = pin_dir(v, dir, sizeof(dir));
	if (!r)
		r = mkdir_p(dir);
	if (r < 0) {
		free(s);
		return r;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		free(s);
		return -errno;
	}
	/* Per process: tools opening the vault at once each write the pin,
	 * and a shared temporary name made one's rename fail (ENOENT). */
	snprintf(tmp, sizeof(tmp), PIN_FILE ".tmp.%ld", (long)getpid());
	r = write_file_atomic_at(dfd, PIN_FILE, tmp, s, n, 0);
	if (!r)
		crashpoint("pin.written");
	close(dfd);
	free(s);
	return r;
}

int vault_pin_from_keys(const struct vault_keys *k, struct pin_kek *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = k->mode;
	out->type = k->kek->type;
	out->gen = k->gen;
	memcpy(out->fp, k->fp, KEK_FP_LEN);
	snprintf(out->file, sizeof(out->file), "%s", k->kek_file);
	return keys_digest(k, out->digest);
}

/* The keyring's mode must be the pinned one, but for the one thing older
 * builds wrote wrongly: a customer AES key recorded as vault-managed. */
int vault_pin_matches(const struct pin_kek *e, const struct vault_keys *hdr)
{
	int mode_ok = e->mode == hdr->mode ||
		      (e->mode == KEK_MODE_CUSTOMER && e->type == KEK_TYPE_AES &&
		       hdr->mode == KEK_MODE_VAULT);

	return mode_ok && e->gen == hdr->gen && !memcmp(e->fp, hdr->fp, KEK_FP_LEN);
}
