// SPDX-License-Identifier: GPL-2.0
/* The host pin (vault_pin.c): where it lives, what it refuses to load. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "vault/vault.h"
#include "vault/vault_pin.h"
#include "vault/vault_softdel.h"

static char dir[64];

static void make_vault(struct vault *v, uint8_t seed)
{
	memset(v, 0, sizeof(*v));
	memset(v->id, seed, VAULT_ID_LEN);
	hex_encode(v->id, VAULT_ID_LEN, v->id_hex);
}

static void make_pin(struct vault_pin *p)
{
	memset(p, 0, sizeof(*p));
	p->cur.mode = KEK_MODE_VAULT;
	p->cur.type = KEK_TYPE_AES;
	p->cur.gen = 3;
	memset(p->cur.fp, 0xf0, KEK_FP_LEN);
	memset(p->cur.digest, 0xd1, KEYS_DIGEST_LEN);
	snprintf(p->cur.file, sizeof(p->cur.file), "/keys/x-3.kek");
}

static int setup(void **state)
{
	char p[96];

	snprintf(dir, sizeof(dir), "/tmp/cs-pin-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/state", dir);
	return setenv("CRYPTSNAP_STATE_DIR", p, 1);
}

static int teardown(void **state)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static void test_roundtrip_and_modes(void **state)
{
	struct vault_pin p, q;
	char path[PATH_MAX], d[PATH_MAX];
	struct vault v;
	struct stat st;

	make_vault(&v, 0x11);
	make_pin(&p);
	assert_int_equal(vault_pin_load(&v, &q), -ENOENT);
	p.has_next = 1;
	p.next = p.cur;
	p.next.gen = 4;
	p.next_generated = 1;
	p.log_seq = 9;
	memset(p.log_mac, 0x99, sizeof(p.log_mac));
	assert_int_equal(vault_pin_save(&v, &p), 0);
	assert_int_equal(vault_pin_load(&v, &q), 0);
	assert_int_equal(q.cur.gen, 3);
	assert_int_equal(q.next.gen, 4);
	assert_true(q.has_next && q.next_generated);
	assert_memory_equal(q.cur.digest, p.cur.digest, KEYS_DIGEST_LEN);
	assert_string_equal(q.cur.file, "/keys/x-3.kek");
	assert_int_equal(q.log_seq, 9);

	assert_int_equal(vault_pin_path(&v, path, sizeof(path)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(d, sizeof(d), "%s", path);
	*strrchr(d, '/') = 0;
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* The log anchor never goes back, whoever saves. */
	p.log_seq = 2;
	assert_int_equal(vault_pin_save(&v, &p), 0);
	assert_int_equal(vault_pin_load(&v, &q), 0);
	assert_int_equal(q.log_seq, 9);

	/* Writable by others: not trusted. */
	assert_int_equal(chmod(path, 0622), 0);
	assert_int_equal(vault_pin_load(&v, &q), -EPERM);
}

/* Another vault's pin copied under this vault's id does not load. */
static void test_other_vault(void **state)
{
	char a[PATH_MAX], b[PATH_MAX], cmd[2 * PATH_MAX + 32];
	struct vault v1, v2;
	struct vault_pin p, q;

	make_vault(&v1, 0x21);
	make_vault(&v2, 0x22);
	make_pin(&p);
	assert_int_equal(vault_pin_save(&v1, &p), 0);
	assert_int_equal(vault_pin_save(&v2, &p), 0);
	assert_int_equal(vault_pin_path(&v1, a, sizeof(a)), 0);
	assert_int_equal(vault_pin_path(&v2, b, sizeof(b)), 0);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", a, b);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(vault_pin_load(&v2, &q), -EUCLEAN);
}

/* An RSA key is never pinned as vault-managed; a relative file is not a
 * pin of this tool. */
static void test_malformed(void **state)
{
	struct vault_pin p, q;
	struct vault v;

	make_vault(&v, 0x31);
	make_pin(&p);
	p.cur.type = KEK_TYPE_RSA;
	assert_int_equal(vault_pin_save(&v, &p), 0);
	assert_int_equal(vault_pin_load(&v, &q), -EUCLEAN);
	make_pin(&p);
	snprintf(p.cur.file, sizeof(p.cur.file), "keys/x-3.kek");
	assert_int_equal(vault_pin_save(&v, &p), 0);
	assert_int_equal(vault_pin_load(&v, &q), -EUCLEAN);
}

/* The retention lock (issue 17): once pinned, no save unlocks it or
 * shortens its grace, and a vault that says less does not count. */
static void test_retention_ratchet(void **state)
{
	struct softdel_settings sd;
	struct vault_pin p, q;
	struct vault v;

	make_vault(&v, 0x41);
	v.grace_override = -1;
	v.deleted_grace = 30 * 86400;
	v.retention_lock = 1;
	make_pin(&p);
	assert_int_equal(vault_pin_save(&v, &p), 0);
	assert_int_equal(vault_softdel_pin(&v), 0);		/* first sight: pinned */
	assert_int_equal(vault_pin_load(&v, &q), 0);
	assert_true(q.has_retention && q.retention_lock);
	assert_int_equal(q.deleted_grace, 30 * 86400);
	/* A save asking for less keeps the lock and the longer grace. */
	q.retention_lock = 0;
	q.deleted_grace = 86400;
	assert_int_equal(vault_pin_save(&v, &q), 0);
	assert_int_equal(vault_pin_load(&v, &q), 0);
	assert_true(q.retention_lock);
	assert_int_equal(q.deleted_grace, 30 * 86400);
	/* A vault writer: grace 0, lock gone; the host still applies both. */
	v.deleted_grace = 0;
	v.retention_lock = 0;
	assert_int_equal(vault_softdel_pin(&v), 0);
	assert_int_equal(vault_softdel_settings(&v, &sd), 0);
	assert_true(sd.locked);
	assert_int_equal(sd.grace, 30 * 86400);
	/* This host's configuration: longer is fine, shorter refused. */
	v.grace_override = 60 * 86400;
	assert_int_equal(vault_softdel_settings(&v, &sd), 0);
	assert_int_equal(sd.grace, 60 * 86400);
	v.grace_override = 86400;
	assert_int_equal(vault_softdel_settings(&v, &sd), -EPERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_vault, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_ratchet, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
