// SPDX-License-Identifier: GPL-2.0
/* cryptsnap verify --vault VAULT [--point ID] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/crypto.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/luks.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_repair.h"
#include "vault/vault_restore.h"

struct verify_args {
	const char *vault, *point, *kek;
	int json;
};

/* A (header, key) pair already tried: points of one disk share them. */
#define KEYS_SEEN_MAX 16
struct key_seen {
	uint8_t hdr[32];	/* SHA-256 of the header area */
	uint8_t *key;		/* secure memory */
	size_t len;
	int ok;
};

struct verify_state {
	struct key_seen seen[KEYS_SEEN_MAX];
	unsigned int nseen;
	char tmpdir[256];	/* private 0700 directory for header files */
	struct vault *v;
	struct bindex bi;
	struct blob_ctx c;
	struct vault_job *job;
	json_object *out;
	uint64_t progress;
	unsigned int damaged;
	json_object *cat;		/* --json: the catalogue check */
	int cat_bad;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: cryptsnap verify --vault VAULT [--point ID] [--kek FILE] [--json]\n"
		"\nDecrypts and authenticates every index, segment and chunk of every point\n"
		"(or of one point), checks that each point's escrowed key opens the LUKS\n"
		"header stored in it, and names each damaged point.  Exit status 5 on damage.\n");
}

static void result(struct verify_state *vs, const char *id, const char *status,
		   uint64_t bad, uint64_t first, int err)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "point", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "bad_chunks", json_object_new_int64((int64_t)bad));
	if (err) {
		json_object_object_add(o, "first_bad_chunk", json_object_new_int64((int64_t)first));
		json_object_object_add(o, "error", json_object_new_string(strerror(-err)));
		vs->damaged++;
	}
	json_object_array_add(vs->out, o);
}

/* Which missing packs (and how many blobs no index lists) damage the point
 * just reported: added to its result. */
static void add_missing_packs(struct verify_state *vs, const struct manifest *m)
{
	json_object *o = json_object_array_get_idx(vs->out,
			json_object_array_length(vs->out) - 1), *a;
	struct point_damage d = { 0 };
	uint8_t *present = NULL;
	size_t i;

	if (vault_index_packs_present(vs->v, &vs->bi, &present) < 0 ||
	    vault_point_damage(vs->v, &vs->bi, &vs->c, m, present, &d) < 0) {
		free(present);
		point_damage_free(&d);
		return;
	}
	a = json_object_new_array();
	for (i = 0; i < d.packs.n; i++)
		json_object_array_add(a, json_object_new_string(d.packs.names[i]));
	json_object_object_add(o, "missing_packs", a);
	json_object_object_add(o, "unlisted_blobs", json_object_new_int64((int64_t)d.unlisted));
	free(present);
	point_damage_free(&d);
}

static const struct escrow_slot *slot(const struct manifest *m, const char *name, int kek)
{
	unsigned int i;

	for (i = 0; i < m->nescrow; i++)
		if (!strcmp(m->escrow[i].name, name) && (m->escrow[i].kind == ESCROW_KEK) == kek)
			return &m->escrow[i];
	return NULL;
}

/* libcryptsetup reads a header from a file: a fresh 0600 one. */
static int try_key(struct verify_state *vs, const uint8_t *hdr, size_t hlen,
		   const uint8_t *key, size_t klen)
{
	char file[300];
	int fd, r;

	if (!vs->tmpdir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(vs->tmpdir, sizeof(vs->tmpdir), "%s/cryptsnap-verify.XXXXXX",
			 t && *t == '/' && strlen(t) < 200 ? t : "/tmp");
		if (!mkdtemp(vs->tmpdir)) {
			vs->tmpdir[0] = 0;
			return -errno;
		}
	}
	snprintf(file, sizeof(file), "%s/header", vs->tmpdir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_full(fd, hdr, hlen);
	close(fd);
	if (!r)
		r = luks_check_key(file, key, klen) < 0 ? -EKEYREJECTED : 0;
	unlink(file);
	return r;
}

/*
 * A point of "backup DISK" holds the LUKS header area ("luks-header") and
 * the key that opened it ("key", wrapped by the KEK): the key must open
 * that header as a restore will see it (the image's first bytes, checked
 * against the slot's hash), whatever KEK rotations happened since.
 * 0: it does or the point has no such pair; -EKEYREJECTED: it does not;
 * else the error reading them.  One key derivation per distinct pair.
 */
static int check_escrowed_key(struct verify_state *vs, const struct manifest *m)
{
	const struct escrow_slot *hs = slot(m, "luks-header", 0), *ks = slot(m, "key", 1);
	uint8_t *hdr = NULL, *key = NULL, h[32];
	size_t hlen = 0, klen = 0;
	unsigned int i;
	int r;

	if (!hs || !ks)
		return 0;
	r = vault_restore_escrow(vs->v, &vs->bi, &vs->c, m, hs, &hdr, &hlen);
	if (!r)
		r = vault_restore_escrow(vs->v, &vs->bi, &vs->c, m, ks, &key, &klen);
	if (!r)
		r = crypto_sha256(hdr, hlen, h);
	for (i = 0; !r && i < vs->nseen; i++)
		if (!memcmp(vs->seen[i].hdr, h, 32) && vs->seen[i].len == klen &&
		    !memcmp(vs->seen[i].key, key, klen)) {
			r = vs->seen[i].ok ? 0 : -EKEYREJECTED;
			goto out;
		}
	if (!r) {
		r = try_key(vs, hdr, hlen, key, klen);
		if ((!r || r == -EKEYREJECTED) && vs->nseen < KEYS_SEEN_MAX) {
			struct key_seen *e = &vs->seen[vs->nseen];

			e->key = secmem_alloc(klen ? klen : 1);
			if (e->key) {
				memcpy(e->hdr, h, 32);
				memcpy(e->key, key, klen);
				e->len = klen;
				e->ok = !r;
				vs->nseen++;
			}
		}
	}
out:
	if (hdr)
		vault_restore_escrow_free(hs, hdr, hlen);
	if (key)
		vault_restore_escrow_free(ks, key, klen);
	return r;
}

static void verify_point(struct verify_state *vs, const char *id)
{
	struct vault_restore_opts o = { .fd = -1, .check_ids = 1, .keep_going = 1 };
	struct vault_restore_result res;
	struct manifest m;
	int r;

	r = vault_point_load(vs->v, &vs->c, id, &m);
	if (r < 0) {
		result(vs, id, "damaged manifest", 0, 0, r);
		return;
	}
	r = vault_restore_run(vs->v, &vs->bi, &m, &o, &res);
	if (r < 0) {
		result(vs, id, "damaged", res.chunks_bad, res.first_bad_chunk,
		       res.first_err ? res.first_err : r);
		add_missing_packs(vs, &m);
	} else if ((r = check_escrowed_key(vs, &m)) == -EKEYREJECTED) {
		result(vs, id, "escrowed key does not open the stored LUKS header", 0, 0, r);
	} else if (r < 0) {
		result(vs, id, "escrowed key or LUKS header unreadable", 0, 0, r);
	} else
		result(vs, id, "ok", 0, 0, 0);
	vs->progress += m.image_size;
	job_update(vs->job, vs->progress, 0);
	manifest_free(&m);
}

/* --json: "catalogue": { "state": ok|absent|damaged|unreadable,
 * "damage": [lines] }. */
static void catalogue_json(struct verify_state *vs, int json)
{
	struct name_list dmg = { 0 };
	json_object *a;
	int absent = 0, r;
	size_t i;

	if (!json)
		return;
	r = cli_catalogue_damage(vs->v, &dmg, &absent);
	vs->cat = json_object_new_object();
	a = json_object_new_array();
	for (i = 0; i < dmg.n; i++)
		json_object_array_add(a, json_object_new_string(dmg.names[i]));
	vs->cat_bad = r < 0 || dmg.n;
	json_object_object_add(vs->cat, "state", json_object_new_string(
		r < 0 ? "unreadable" : dmg.n ? "damaged" : absent ? "absent" : "ok"));
	json_object_object_add(vs->cat, "damage", a);
	name_list_free(&dmg);
}

static void print_missing(json_object *o, const char *id)
{
	json_object *a;
	int64_t unlisted = 0;
	size_t i;

	if (json_object_object_get_ex(o, "missing_packs", &a))
		for (i = 0; i < json_object_array_length(a); i++)
			printf("DAMAGED %s: needs missing pack %s\n", id,
			       json_object_get_string(json_object_array_get_idx(a, i)));
	if (!vj_i64(o, "unlisted_blobs", &unlisted) && unlisted)
		printf("DAMAGED %s: needs %lld blobs no index lists (see 'cryptsnap "
		       "vault repair')\n", id, (long long)unlisted);
}

static void print_results(struct verify_state *vs, json_object *dmg_idx, int json)
{
	size_t i;

	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "points", json_object_get(vs->out));
		json_object_object_add(o, "damaged_indexes", json_object_get(dmg_idx));
		json_object_object_add(o, "damaged_points", json_object_new_int((int)vs->damaged));
		if (vs->cat)
			json_object_object_add(o, "catalogue", vs->cat);
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return;
	}
	for (i = 0; i < json_object_array_length(dmg_idx); i++)
		printf("DAMAGED index object %s\n",
		       json_object_get_string(json_object_array_get_idx(dmg_idx, i)));
	for (i = 0; i < json_object_array_length(vs->out); i++) {
		json_object *o = json_object_array_get_idx(vs->out, i);
		const char *id = "", *st = "", *err = "";
		int64_t bad = 0, first = 0;

		vj_str(o, "point", &id);
		vj_str(o, "status", &st);
		vj_i64(o, "bad_chunks", &bad);
		if (!strcmp(st, "ok")) {
			printf("ok      %s\n", id);
			continue;
		}
		vj_str(o, "error", &err);
		vj_i64(o, "first_bad_chunk", &first);
		if (!bad && strcmp(st, "damaged")) {	/* the key, the manifest */
			printf("DAMAGED %s: %s (%s)\n", id, st, err);
			print_missing(o, id);
			continue;
		}
		printf("DAMAGED %s: %s, %lld bad chunks, first at chunk %lld (%s)\n", id, st,
		       (long long)bad, (long long)first, err);
		print_missing(o, id);
	}
	printf("%u of %zu points damaged\n", vs->damaged, json_object_array_length(vs->out));
}

static int run(struct verify_args *a, struct verify_state *vs)
{
	struct name_list ids = { 0 }, dmg = { 0 };
	json_object *dj = json_object_new_array();
	size_t i;
	int r;

	r = vault_index_load(vs->v, &vs->bi, &dmg);
	if (!r && a->point)
		r = name_list_add(&ids, a->point);
	else if (!r)
		r = vault_point_ids(vs->v, &ids);
	if (r < 0) {
		json_object_put(dj);
		return fail("verify", r, "cannot read the vault");
	}
	job_start(vs->v, "verify", a->point ? a->point : "all", 0, &vs->job);
	for (i = 0; i < dmg.n; i++)
		json_object_array_add(dj, json_object_new_string(dmg.names[i]));
	for (i = 0; i < ids.n; i++)
		verify_point(vs, ids.names[i]);
	catalogue_json(vs, a->json);
	print_results(vs, dj, a->json);
	r = vs->damaged || dmg.n ? EXIT_CORRUPT : EXIT_OK;
	if (!a->json && cli_catalogue_report("verify", vs->v, 1, 0))
		r = EXIT_CORRUPT;
	if (a->json && vs->cat_bad)
		r = EXIT_CORRUPT;
	job_finish(vs->job, r ? -EBADMSG : 0, r ? "damaged points found" : NULL);
	json_object_put(dj);
	name_list_free(&ids);
	name_list_free(&dmg);
	return r;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "point", required_argument, NULL, 'p' },
		{ "kek", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct verify_args a = { 0 };
	struct verify_state vs = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a.vault = optarg; break;
		case 'p': a.point = optarg; break;
		case 'k': a.kek = optarg; break;
		case 'j': a.json = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	r = cli_vault("verify", a.vault, 1, a.kek, &vs.v);
	if (r)
		return r;
	/* Shared: no GC or rotation removes what we are about to read. */
	r = vault_lock(vs.v, VAULT_LOCK_SHARED);
	if (r < 0) {
		r = r == -EBUSY ? cli_vault_busy("verify", vs.v, VAULT_LOCK_SHARED, "cannot lock vault")
				: fail("verify", r, "cannot lock vault");
		vault_close(vs.v);
		return r;
	}
	vs.out = json_object_new_array();
	r = bindex_init(&vs.bi);
	if (!r)
		r = blob_ctx_init(&vs.c, vs.v);
	r = r < 0 ? fail("verify", r, "setup") : run(&a, &vs);
	json_object_put(vs.out);
	for (c = 0; c < (int)vs.nseen; c++)
		secmem_free(vs.seen[c].key);
	if (vs.tmpdir[0])
		rmdir(vs.tmpdir);
	blob_ctx_free(&vs.c);
	bindex_free(&vs.bi);
	vault_close(vs.v);
	return r;
}
