// SPDX-License-Identifier: GPL-2.0
/* The authenticated activity log (vault_log.c): a whole chain verifies;
 * an edited, planted, removed or newest-removed event is reported; the
 * log is trimmed past its bound and still verifies. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/vjson.h"
#include "vault/vault.h"
#include "vault/vault_log.h"

struct tv {
	char dir[64], loc[96], kek[PATH_MAX];
	struct vault *v;
};

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	struct tv *t = calloc(1, sizeof(*t));
	char p[128];

	snprintf(t->dir, sizeof(t->dir), "/tmp/cs-log-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->loc, sizeof(t->loc), "%s/vault", t->dir);
	snprintf(p, sizeof(p), "%s/state", t->dir);
	setenv("CRYPTSNAP_STATE_DIR", p, 1);
	snprintf(p, sizeof(p), "%s/keys", t->dir);
	setenv("CRYPTSNAP_KEY_DIR", p, 1);
	assert_int_equal(vault_init(t->loc, &o, t->kek, sizeof(t->kek)), 0);
	assert_int_equal(vault_open(t->loc, &t->v), 0);
	assert_int_equal(vault_unlock(t->v, NULL), 0);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tv *t = *state;
	char cmd[128];

	vault_close(t->v);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	free(t);
	vault_log_keep = LOG_KEEP;
	vault_log_trim = LOG_TRIM;
	return system(cmd);
}

/* Verifies the vault's log; returns its result, *n the events read. */
static int verify(struct tv *t, size_t *n)
{
	struct log_events l;
	char why[160] = "";
	int r;

	assert_int_equal(vault_log_read(t->v, &l), 0);
	r = vault_log_verify(t->v, &l, why, sizeof(why));
	if (n)
		*n = l.n;
	log_events_free(&l);
	return r;
}

static void append(struct tv *t, int n)
{
	char d[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(d, sizeof(d), "event %d", i);
		assert_int_equal(vault_log_event(t->v, "test", d), 0);
	}
}

static char *event_path(struct tv *t, uint64_t seq)
{
	struct log_events l;
	static char p[256];
	size_t i;

	p[0] = 0;
	assert_int_equal(vault_log_read(t->v, &l), 0);
	for (i = 0; i < l.n; i++)
		if (l.ev[i].seq == seq)
			snprintf(p, sizeof(p), "%s/%s", t->loc, l.ev[i].name);
	log_events_free(&l);
	assert_true(p[0]);
	return p;
}

static void test_whole_chain(void **state)
{
	struct tv *t = *state;
	size_t n;

	append(t, 4);
	assert_int_equal(verify(t, &n), 0);
	assert_int_equal(n, 5);		/* "init" + 4 */
}

static void test_edited_event(void **state)
{
	struct tv *t = *state;
	json_object *o;
	char *p;

	append(t, 3);
	p = event_path(t, 2);
	o = json_object_from_file(p);
	json_object_object_add(o, "detail", json_object_new_string("nothing happened"));
	assert_int_equal(json_object_to_file(p, o), 0);
	json_object_put(o);
	assert_int_equal(verify(t, NULL), -EBADMSG);
}

static void test_removed_event(void **state)
{
	struct tv *t = *state;

	append(t, 3);
	assert_int_equal(unlink(event_path(t, 3)), 0);
	assert_int_equal(verify(t, NULL), -EBADMSG);
}

/* Only the host's pin knows the newest event existed. */
static void test_removed_newest(void **state)
{
	struct tv *t = *state;

	append(t, 3);
	assert_int_equal(verify(t, NULL), 0);
	assert_int_equal(unlink(event_path(t, 4)), 0);
	assert_int_equal(verify(t, NULL), -EBADMSG);
}

/* A copy of a real event under the next seq: its mac does not fit. */
static void test_planted_event(void **state)
{
	struct tv *t = *state;
	char p[256], *src;
	json_object *o;

	append(t, 1);
	src = event_path(t, 2);
	o = json_object_from_file(src);
	json_object_object_add(o, "seq", json_object_new_int(3));
	snprintf(p, sizeof(p), "%s/log/000000000003-00000000.json", t->loc);
	assert_int_equal(json_object_to_file(p, o), 0);
	json_object_put(o);
	assert_int_equal(verify(t, NULL), -EBADMSG);
}

/* Past the bound the oldest go, a signed trim event says where the log
 * starts; removing more of the start is still noticed. */
static void test_trim(void **state)
{
	struct tv *t = *state;
	size_t n;

	vault_log_keep = 10;
	vault_log_trim = 4;
	append(t, 12);
	assert_int_equal(verify(t, &n), 0);
	assert_true(n <= 10);
	assert_true(n >= 6);
	{
		struct log_events l;
		char why[160];

		assert_int_equal(vault_log_read(t->v, &l), 0);
		assert_int_equal(vault_log_verify(t->v, &l, why, sizeof(why)), 0);
		assert_int_equal(unlink(event_path(t, l.ev[0].seq)), 0);
		log_events_free(&l);
	}
	assert_int_equal(verify(t, NULL), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_whole_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_planted_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
