// SPDX-License-Identifier: GPL-2.0
/* Disk records: codec incl. hostile input, put/get/list/delete on a real
 * temporary vault, KEK rotation re-wrapping their escrowed key, and a
 * rotation killed before every vault write, then recovered.  Also the
 * point walk that rotation and prune share. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>

#include "lib/secmem.h"
#include "lib/util.h"
#include "vault/vault.h"
#include "vault/vault_backup.h"
#include "vault/vault_disk.h"
#include "vault/vault_escrow.h"
#include "vault/vault_gc.h"
#include "vault/vault_keys.h"
#include "vault/vault_points.h"
#include "vault/vault_rotate.h"

static const uint8_t pass1[] = "correct horse battery staple";
static const uint8_t pass2[] = "rotated passphrase #2";

static void make_rec(struct vault_disk_rec *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->luks_uuid, sizeof(r->luks_uuid), "0b5c1a7e-3f2d-4c8b-9a6e-5d4f3e2a1b0c");
	r->luks_version = 2;
	r->size = 1ULL << 30;
	r->chunk_size = 65536;
	r->created = 1735689600;
	r->key_escrowed = 1735689601;
	assert_int_equal(vault_disk_set_meta(r, "mapping", "vm1-root-crypt"), 0);
}

static void make_slot(struct escrow_slot *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), DISK_KEY_SLOT);
	e->kind = ESCROW_KEK;
	e->len = 60;
	e->data = calloc(1, e->len);
	e->nwraps = 1;
	e->wraps[0].gen = 4;
	e->wraps[0].len = 40;
	e->wraps[0].data = calloc(1, 40);
}

static char *encode_sample(size_t *len)
{
	struct vault_disk_rec r;
	struct escrow_slot e;
	char *s;

	make_rec(&r, "vm1-root");
	make_slot(&e);
	assert_int_equal(vault_disk_encode(&r, &e, &s, len), 0);
	escrow_slot_free(&e);
	return s;
}

static void test_codec_roundtrip(void **state)
{
	struct vault_disk_rec r, back;
	struct escrow_slot e, eb;
	char *s;
	size_t len;

	make_rec(&r, "vm1-root");
	make_slot(&e);
	assert_int_equal(vault_disk_encode(&r, &e, &s, &len), 0);
	assert_int_equal(vault_disk_decode(s, len, &back, &eb), 0);
	assert_string_equal(back.name, "vm1-root");
	assert_string_equal(back.luks_uuid, r.luks_uuid);
	assert_int_equal(back.luks_version, 2);
	assert_int_equal(back.size, r.size);
	assert_int_equal(back.chunk_size, 65536);
	assert_int_equal(back.created, r.created);
	assert_int_equal(back.key_escrowed, r.key_escrowed);
	assert_string_equal(vault_disk_meta(&back, "mapping"), "vm1-root-crypt");
	assert_null(vault_disk_meta(&back, "nope"));
	assert_int_equal(eb.nwraps, 1);
	assert_int_equal(eb.wraps[0].gen, 4);
	assert_int_equal(eb.len, 60);
	escrow_slot_free(&eb);
	free(s);
	/* The encoder refuses what the decoder would refuse. */
	r.luks_version = 3;
	assert_int_equal(vault_disk_encode(&r, &e, &s, &len), -EINVAL);
	r.luks_version = 1;
	e.kind = ESCROW_DEK;
	assert_int_equal(vault_disk_encode(&r, &e, &s, &len), -EINVAL);
	escrow_slot_free(&e);
	/* set_meta replaces an existing key and bounds the count. */
	assert_int_equal(vault_disk_set_meta(&r, "mapping", "x"), 0);
	assert_int_equal(r.nmeta, 1);
	assert_string_equal(vault_disk_meta(&r, "mapping"), "x");
}

static void expect_bad(const char *from, const char *to)
{
	struct vault_disk_rec back;
	struct escrow_slot eb;
	char *s, *p, *t;
	size_t len;
	int r;

	s = encode_sample(&len);
	p = strstr(s, from);
	if (!p)
		fail_msg("'%s' not in %s", from, s);
	t = malloc(len + strlen(to) + 1);
	memcpy(t, s, (size_t)(p - s));
	strcpy(t + (p - s), to);
	strcat(t, p + strlen(from));
	r = vault_disk_decode(t, strlen(t), &back, &eb);
	if (r != -EUCLEAN && r != -EPROTONOSUPPORT)
		fail_msg("accepted (%d): %s", r, t);
	free(t);
	free(s);
}

static void test_codec_hostile(void **state)
{
	struct vault_disk_rec back;
	struct escrow_slot eb;
	char *s, meta[2048];
	size_t len, cut, i;
	int n;

	expect_bad("\"format\":1", "\"format\":2");
	expect_bad("\"format\":1", "\"format\":\"1\"");
	expect_bad("\"name\":\"vm1-root\"", "\"name\":\"../etc\"");
	expect_bad("\"name\":\"vm1-root\"", "\"name\":\"\"");
	expect_bad("\"name\":\"vm1-root\"", "\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
	expect_bad("\"name\":\"vm1-root\"", "\"name\":7");
	expect_bad("3f2d-", "3f2d");
	expect_bad("0b5c1a7e-", "0b5c1a7g-");
	expect_bad("\"luks_version\":2", "\"luks_version\":3");
	expect_bad("\"luks_version\":2", "\"luks_version\":0");
	expect_bad("\"luks_version\":2", "\"luks_version\":-1");
	expect_bad("\"size\":1073741824", "\"size\":0");
	expect_bad("\"size\":1073741824", "\"size\":-5");
	expect_bad("\"size\":1073741824", "\"size\":99999999999999999999");
	expect_bad("\"size\":1073741824", "\"size\":1.5");
	expect_bad("\"chunk_size\":65536", "\"chunk_size\":65537");
	expect_bad("\"chunk_size\":65536", "\"chunk_size\":2048");
	expect_bad("\"chunk_size\":65536", "\"chunk_size\":4294967296");
	expect_bad("\"created\":1735689600", "\"created\":-1");
	expect_bad("\"key_escrowed\":1735689601", "\"key_escrowed\":null");
	expect_bad("\"kind\":\"kek\"", "\"kind\":\"dek\"");
	expect_bad("\"name\":\"key\"", "\"name\":\"passphrase\"");
	expect_bad("\"gen\":4", "\"gen\":0");
	expect_bad("\"wraps\":[", "\"wraps\":[],\"x\":[");
	expect_bad("\"data\":\"00", "\"data\":\"0");
	expect_bad("\"data\":\"00", "\"data\":\"zz");
	expect_bad("\"key\":{", "\"key\":7,\"y\":{");
	expect_bad("\"meta\":{", "\"meta\":[],\"z\":{");
	expect_bad("\"mapping\":\"vm1-root-crypt\"", "\"mapping\":5");
	expect_bad("\"mapping\":", "\"mappingmappingmappingmappingmapping\":");
	/* Too many meta entries. */
	n = snprintf(meta, sizeof(meta), "\"meta\":{");
	for (i = 0; i < DISK_MAX_META + 1; i++)
		n += snprintf(meta + n, sizeof(meta) - (size_t)n, "\"k%zu\":\"v\",", i);
	expect_bad("\"meta\":{", meta);
	/* Every truncation, and random corruption, is refused without a crash. */
	s = encode_sample(&len);
	for (cut = 0; cut < len; cut++)
		assert_int_equal(vault_disk_decode(s, cut, &back, &eb), -EUCLEAN);
	srand(7);
	for (i = 0; i < 2000; i++) {
		char *t = malloc(len);

		memcpy(t, s, len);
		t[rand() % len] = (char)(rand() & 0xff);
		if (!vault_disk_decode(t, len, &back, &eb))
			escrow_slot_free(&eb);
		free(t);
	}
	free(s);
	assert_int_equal(vault_disk_decode("[]", 2, &back, &eb), -EUCLEAN);
	assert_int_equal(vault_disk_decode("{}\0x", 4, &back, &eb), -EUCLEAN);
}

/* ---- a real vault in a temporary directory ---------------------------- */

struct tv {
	char dir[64], loc[96], keys[96], kek[PATH_MAX];
};

static int rm_tree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void tv_init(struct tv *t)
{
	struct vault_init_opts o = { 0 };
	char state[96];

	snprintf(t->dir, sizeof(t->dir), "/tmp/cs-vdisk-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->loc, sizeof(t->loc), "%s/vault", t->dir);
	snprintf(t->keys, sizeof(t->keys), "%s/keys", t->dir);
	assert_int_equal(mkdir(t->keys, 0700), 0);
	/* Host state (the KEK pins) and key files stay in the test's dir. */
	snprintf(state, sizeof(state), "%s/state", t->dir);
	assert_int_equal(setenv("CRYPTSNAP_STATE_DIR", state, 1), 0);
	assert_int_equal(setenv("CRYPTSNAP_KEY_DIR", t->keys, 1), 0);
	o.key_dir = t->keys;
	assert_int_equal(vault_init(t->loc, &o, t->kek, sizeof(t->kek)), 0);
}

static struct vault *tv_open(struct tv *t, const char *kek)
{
	struct vault *v;

	assert_int_equal(vault_open(t->loc, &v), 0);
	assert_int_equal(vault_unlock(v, kek), 0);
	return v;
}

static void expect_secret(struct vault *v, const char *name, const uint8_t *want,
			  size_t wlen)
{
	struct vault_disk_rec rec;
	uint8_t *sec = NULL;
	size_t slen = 0;

	assert_int_equal(vault_disk_get(v, name, &rec, &sec, &slen), 0);
	assert_int_equal(slen, wlen);
	assert_memory_equal(sec, want, wlen);
	secmem_free(sec);
}

/* The disk record's key slot has exactly one wrapping, of generation gen. */
static void expect_wrap_gen(struct vault *v, const char *name, uint32_t gen)
{
	struct vault_disk_rec rec;
	struct escrow_slot key = { 0 };
	struct blob_ctx c;

	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_disk_load(v, &c, name, &rec, &key), 0);
	assert_int_equal(key.nwraps, 1);
	assert_int_equal(key.wraps[0].gen, gen);
	escrow_slot_free(&key);
	blob_ctx_free(&c);
}

static void copy_file(const char *from, const char *to)
{
	uint8_t buf[4096];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static void test_put_get_list_delete(void **state)
{
	struct vault_disk_rec rec, back;
	struct name_list names = { 0 };
	struct gc_stats st;
	struct vault *v, *v2;
	char a[256], b[256];
	struct tv t;
	uint8_t *sec;
	size_t slen;

	tv_init(&t);
	v = tv_open(&t, NULL);
	make_rec(&rec, "vm1-root");
	rec.created = 0;
	assert_int_equal(vault_disk_get(v, "vm1-root", &back, NULL, NULL), -ENOENT);
	/* Without a secret there is nothing to keep yet. */
	assert_int_equal(vault_disk_put(v, &rec, NULL, 0), -ENOENT);
	assert_int_equal(vault_disk_put(v, &rec, pass1, 0), -EINVAL);
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), 0);
	assert_null(v->lock);	/* its own shared lock is dropped */
	assert_int_equal(vault_disk_get(v, "vm1-root", &back, NULL, NULL), 0);
	assert_true(back.created > 0 && back.key_escrowed > 0);
	assert_string_equal(vault_disk_meta(&back, "mapping"), "vm1-root-crypt");
	expect_secret(v, "vm1-root", pass1, sizeof(pass1));

	/* Metadata update without a secret keeps the escrowed key. */
	rec.size = 2ULL << 30;
	assert_int_equal(vault_disk_put(v, &rec, NULL, 0), 0);
	assert_int_equal(vault_disk_get(v, "vm1-root", &back, NULL, NULL), 0);
	assert_int_equal(back.size, 2ULL << 30);
	expect_secret(v, "vm1-root", pass1, sizeof(pass1));
	/* Re-escrow after a LUKS passphrase change. */
	assert_int_equal(vault_disk_put(v, &rec, pass2, sizeof(pass2)), 0);
	expect_secret(v, "vm1-root", pass2, sizeof(pass2));

	make_rec(&rec, "vm2-data");
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), 0);
	assert_int_equal(vault_disk_list(v, &names), 0);
	assert_int_equal(names.n, 2);
	assert_string_equal(names.names[0], "vm1-root");
	assert_string_equal(names.names[1], "vm2-data");
	name_list_free(&names);

	/* A record copied over another disk's name does not open. */
	snprintf(a, sizeof(a), "%s/disks/vm1-root.disk", t.loc);
	snprintf(b, sizeof(b), "%s/disks/vm2-data.disk", t.loc);
	copy_file(a, b);
	assert_int_equal(vault_disk_get(v, "vm2-data", &back, &sec, &slen), -EBADMSG);
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), 0);	/* re-escrow heals */
	expect_secret(v, "vm2-data", pass1, sizeof(pass1));
	assert_int_equal(vault_disk_get(v, "../x", &back, NULL, NULL), -EINVAL);

	/* Writers are kept out while a rotation or GC holds the vault. */
	assert_int_equal(vault_open(t.loc, &v2), 0);
	assert_int_equal(vault_lock(v2, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), -EBUSY);
	assert_int_equal(vault_disk_delete(v, "vm2-data"), -EBUSY);
	vault_close(v2);

	/* GC leaves disk records alone. */
	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_gc(v, &st), 0);
	vault_lock_release(v);
	expect_secret(v, "vm1-root", pass2, sizeof(pass2));

	assert_int_equal(vault_disk_delete(v, "vm2-data"), 0);
	assert_int_equal(vault_disk_delete(v, "vm2-data"), -ENOENT);
	assert_int_equal(vault_disk_list(v, &names), 0);
	assert_int_equal(names.n, 1);
	name_list_free(&names);
	vault_close(v);
	rm_tree(t.dir);
}

/* A point with a KEK escrow slot, so rotation has both kinds to re-wrap. */
static void add_point(struct vault *v, char id[POINT_ID_MAX])
{
	struct vault_escrow_in esc = { "passphrase", ESCROW_KEK, pass1, sizeof(pass1) };
	struct vault_backup_opts o = { .disk = "vm1-root", .image_size = 65536,
				       .escrow = &esc, .nescrow = 1, .threads = 1 };
	struct vault_backup *vb;

	assert_int_equal(vault_backup_begin(v, &o, &vb), 0);
	assert_int_equal(vault_backup_finish(vb, id), 0);
	vault_backup_free(vb);
}

static void expect_point_secret(struct vault *v, const char *id)
{
	struct blob_ctx c;
	struct manifest m;
	uint8_t *data;
	size_t len;

	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_point_load(v, &c, id, &m), 0);
	assert_int_equal(m.escrow[0].nwraps, 1);
	assert_int_equal(escrow_open(v, &c, id, &m.escrow[0], &data, &len), 0);
	assert_int_equal(len, sizeof(pass1));
	assert_memory_equal(data, pass1, len);
	secmem_free(data);
	manifest_free(&m);
	blob_ctx_free(&c);
}

static void rotate(struct vault *v, const char *kek)
{
	char path[PATH_MAX];

	assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);
	assert_int_equal(vault_rotate(v, kek, path, sizeof(path)), 0);
	vault_lock_release(v);
}

static void test_rotation_rewraps_disks(void **state)
{
	struct vault_disk_rec rec;
	struct escrow_slot key = { 0 };
	struct vault_kek *oldkek;
	struct blob_ctx c;
	char old[PATH_MAX], pem[PATH_MAX], pid[POINT_ID_MAX];
	uint8_t out[64];
	size_t n;
	struct vault *v;
	struct tv t;

	tv_init(&t);
	v = tv_open(&t, NULL);
	make_rec(&rec, "vm1-root");
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), 0);
	add_point(v, pid);
	snprintf(old, sizeof(old), "%s/old.kek", t.dir);
	copy_file(t.kek, old);
	rotate(v, NULL);
	vault_close(v);

	/* Reopened with the new KEK (the recorded file): same secret. */
	v = tv_open(&t, NULL);
	assert_int_equal(v->keys->gen, 2);
	expect_secret(v, "vm1-root", pass1, sizeof(pass1));
	expect_wrap_gen(v, "vm1-root", 2);
	expect_point_secret(v, pid);
	/* The old KEK neither unlocks the vault nor unwraps the slot key. */
	assert_int_equal(kek_load(old, &oldkek), 0);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_disk_load(v, &c, "vm1-root", &rec, &key), 0);
	assert_int_not_equal(kek_unwrap(oldkek, key.wraps[0].data, key.wraps[0].len,
					out, &n, sizeof(out)), 0);
	escrow_slot_free(&key);
	blob_ctx_free(&c);
	kek_free(oldkek);
	vault_close(v);
	assert_int_equal(vault_open(t.loc, &v), 0);
	assert_int_equal(vault_unlock(v, old), -EKEYREJECTED);
	vault_close(v);

	/* To a customer-managed RSA key, then re-escrow under it. */
	snprintf(pem, sizeof(pem), "%s/cust.pem", t.dir);
	copy_file("data/rsa2048.pem", pem);
	v = tv_open(&t, NULL);
	rotate(v, pem);
	vault_close(v);
	v = tv_open(&t, NULL);
	assert_int_equal(v->keys->mode, KEK_MODE_CUSTOMER);
	expect_secret(v, "vm1-root", pass1, sizeof(pass1));
	expect_wrap_gen(v, "vm1-root", 3);
	assert_int_equal(vault_disk_put(v, &rec, pass2, sizeof(pass2)), 0);
	expect_secret(v, "vm1-root", pass2, sizeof(pass2));
	expect_point_secret(v, pid);
	vault_close(v);
	rm_tree(t.dir);
}

/* ---- the point walk (vault_point_for_each) ----------------------------- */

struct walk {
	char ids[2][POINT_ID_MAX];
	char gone[POINT_ID_MAX];
	int seen;
};

/* The first visit deletes the other point, as a concurrent prune would,
 * and changes its own manifest. */
static int walk_delete_other(struct vault *v, struct manifest *m, void *arg)
{
	struct walk *w = arg;

	if (w->seen++)
		return 0;
	snprintf(w->gone, sizeof(w->gone), "%s",
		 strcmp(m->id, w->ids[0]) ? w->ids[0] : w->ids[1]);
	assert_int_equal(vault_point_delete(v, w->gone), 0);
	assert_int_equal(manifest_set_meta(m, "walked", "yes"), 0);
	return 1;
}

static int walk_fail(struct vault *v, struct manifest *m, void *arg)
{
	(*(int *)arg)++;
	return -EIO;
}

static void test_point_walk(void **state)
{
	struct walk w = { 0 };
	char bad[POINT_ID_MAX] = "";
	struct blob_ctx c;
	struct manifest m;
	struct vault *v;
	struct tv t;
	int calls = 0;

	tv_init(&t);
	v = tv_open(&t, NULL);
	add_point(v, w.ids[0]);
	add_point(v, w.ids[1]);

	/* skip_gone: the deleted point is skipped; the change is saved. */
	assert_int_equal(vault_point_for_each(v, 1, walk_delete_other, &w, bad), 0);
	assert_int_equal(w.seen, 1);
	assert_string_equal(bad, "");
	if (!strcmp(w.gone, w.ids[0]))
		memcpy(w.ids[0], w.ids[1], POINT_ID_MAX);
	assert_int_equal(blob_ctx_init(&c, v), 0);
	assert_int_equal(vault_point_load(v, &c, w.ids[0], &m), 0);
	assert_non_null(manifest_meta(&m, "walked"));
	assert_string_equal(manifest_meta(&m, "walked"), "yes");
	manifest_free(&m);
	blob_ctx_free(&c);

	/* Without it the walk stops at the deleted point and names it. */
	add_point(v, w.ids[1]);
	w.seen = 0;
	assert_int_equal(vault_point_for_each(v, 0, walk_delete_other, &w, bad), -ENOENT);
	assert_string_equal(bad, w.gone);

	/* An error of fn stops the walk; no point is named. */
	bad[0] = 0;
	assert_int_equal(vault_point_for_each(v, 0, walk_fail, &calls, bad), -EIO);
	assert_int_equal(calls, 1);
	assert_string_equal(bad, "");
	vault_close(v);
	rm_tree(t.dir);
}

/* ---- crash injection: a backend that dies before its Nth write -------- */

static const struct backend_ops *real_ops;
static struct backend_ops crash_ops;
static int crash_at, writes;

static void maybe_crash(void)
{
	if (++writes == crash_at)
		_exit(42);
}

static int crash_put(struct backend *b, const char *name, const void *buf, size_t len)
{
	maybe_crash();
	return real_ops->put(b, name, buf, len);
}

static int crash_del(struct backend *b, const char *name)
{
	maybe_crash();
	return real_ops->del(b, name);
}

/* Child: a rotation that is killed before its crash_at-th vault write. */
static int run_crashing_rotation(struct tv *t, int at)
{
	char path[PATH_MAX];
	struct vault *v;
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		if (vault_open(t->loc, &v) || vault_unlock(v, NULL) ||
		    vault_lock(v, VAULT_LOCK_EXCLUSIVE))
			_exit(3);
		real_ops = v->be->ops;
		crash_ops = *real_ops;
		crash_ops.put = crash_put;
		crash_ops.del = crash_del;
		v->be->ops = &crash_ops;
		crash_at = at;
		_exit(vault_rotate(v, NULL, path, sizeof(path)) ? 2 : 0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Key files left in the key directory; the single one must be the vault's. */
static void expect_one_kek(struct tv *t)
{
	struct vault *v = tv_open(t, NULL);
	DIR *d = opendir(t->keys);
	struct dirent *e;
	char path[PATH_MAX];
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", t->keys, e->d_name);
		assert_string_equal(path, v->keys->kek_file);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
	vault_close(v);
}

static void test_rotation_crash_recovery(void **state)
{
	struct vault_disk_rec rec;
	char pid[POINT_ID_MAX];
	uint64_t sz;
	struct vault *v;
	struct tv t;
	int at, rc = 42, committed = 0;

	tv_init(&t);
	v = tv_open(&t, NULL);
	make_rec(&rec, "vm1-root");
	assert_int_equal(vault_disk_put(v, &rec, pass1, sizeof(pass1)), 0);
	make_rec(&rec, "vm2-data");
	assert_int_equal(vault_disk_put(v, &rec, pass2, sizeof(pass2)), 0);
	add_point(v, pid);
	vault_close(v);

	for (at = 1; rc == 42 && at < 64; at++) {
		uint32_t before;

		v = tv_open(&t, NULL);
		before = v->keys->gen;
		vault_close(v);
		rc = run_crashing_rotation(&t, at);
		if (rc != 42 && rc != 0)
			fail_msg("rotation killed before write %d: exit %d", at, rc);
		/* Whatever the crash left: the recorded KEK unlocks, recovery
		 * (which the next rotate or prune runs) settles every slot on
		 * one generation, and every secret still opens. */
		v = tv_open(&t, NULL);
		committed += v->keys->gen != before;
		assert_int_equal(vault_lock(v, VAULT_LOCK_EXCLUSIVE), 0);	/* stale lock gone */
		assert_int_equal(vault_rotate_recover(v), 0);
		vault_lock_release(v);
		assert_int_equal(v->be->ops->size(v->be, "rotation.json", &sz), -ENOENT);
		expect_secret(v, "vm1-root", pass1, sizeof(pass1));
		expect_secret(v, "vm2-data", pass2, sizeof(pass2));
		expect_wrap_gen(v, "vm1-root", v->keys->gen);
		expect_wrap_gen(v, "vm2-data", v->keys->gen);
		expect_point_secret(v, pid);
		vault_close(v);
	}
	assert_int_equal(rc, 0);	/* the last run had no crash point left */
	/* Crashes before the commit rolled back, those after it completed. */
	assert_true(committed > 1 && committed < at - 1);
	/* No new KEK of a rolled-back rotation and no retired KEK survives. */
	expect_one_kek(&t);
	rm_tree(t.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_hostile),
		cmocka_unit_test(test_put_get_list_delete),
		cmocka_unit_test(test_rotation_rewraps_disks),
		cmocka_unit_test(test_point_walk),
		cmocka_unit_test(test_rotation_crash_recovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
