// SPDX-License-Identifier: GPL-2.0
/*
 * The system log (lib/log.c) and the job events written through it
 * (vault/vault_job.c).  This file defines openlog() and vsyslog(), so the
 * library's calls land here instead of libc's: the test sees the ident,
 * option, facility, priority and every line, and nothing reaches the
 * host's log.
 */
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

#include "lib/log.h"
#include "vault/vault.h"
#include "vault/vault_job.h"

static const char *ident;
static int ident_opt, ident_fac, nopen;
static int last_prio, nlines;
static char last[1024];

void openlog(const char *id, int option, int facility)
{
	ident = id;
	ident_opt = option;
	ident_fac = facility;
	nopen++;
}

void vsyslog(int prio, const char *fmt, va_list ap)
{
	last_prio = prio;
	vsnprintf(last, sizeof(last), fmt, ap);
	nlines++;
}

static char dir[] = "/tmp/cs-log.XXXXXX";
static char loc[128];

static int setup(void **state)
{
	struct vault_init_opts o = { 0 };
	char keys[160], kek[PATH_MAX];

	if (!mkdtemp(dir))
		return -1;
	snprintf(loc, sizeof(loc), "%s/vault", dir);
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	if (mkdir(keys, 0700))
		return -1;
	o.key_dir = keys;
	return vault_init(loc, &o, kek, sizeof(kek));
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void test_switch(void **state)
{
	int n;

	setenv("CRYPTSNAP_SYSLOG", "0", 1);
	n = nlines;
	assert_int_equal(log_enabled(), 0);
	log_event(LOG_INFO, "never %d", 1);
	assert_int_equal(nlines, n);
	assert_int_equal(nopen, 0);

	setenv("CRYPTSNAP_SYSLOG", "1", 1);
	assert_int_equal(log_enabled(), 1);
	unsetenv("CRYPTSNAP_SYSLOG");
	assert_int_equal(log_enabled(), 1);
	log_event(LOG_WARNING, "event disk=%s", "data");
	assert_int_equal(nlines, n + 1);
	assert_int_equal(last_prio, LOG_WARNING);
	assert_string_equal(last, "event disk=data");
	assert_string_equal(ident, "cryptsnap");
	assert_int_equal(ident_fac, LOG_DAEMON);
	assert_true(ident_opt & LOG_PID);
	log_event(LOG_INFO, "again");
	assert_int_equal(nopen, 1);		/* opened once */
}

/* "KEY=" value of line, up to the next space (result=: to the end). */
static const char *field(const char *line, const char *key, char *out, size_t len)
{
	const char *p = strstr(line, key);
	size_t n;

	assert_non_null(p);
	p += strlen(key);
	n = strcmp(key, " result=") ? strcspn(p, " ") : strlen(p);
	assert_true(n < len);
	memcpy(out, p, n);
	out[n] = 0;
	return out;
}

static void test_job_lines(void **state)
{
	struct vault_job *j;
	struct vault *v;
	char id[64], f[128], want[256], before[sizeof(last)];

	unsetenv("CRYPTSNAP_SYSLOG");
	assert_int_equal(vault_open(loc, &v), 0);

	assert_int_equal(job_start(v, "backup", "data", 1000, &j), 0);
	snprintf(id, sizeof(id), "%s", j->id);
	snprintf(want, sizeof(want), "backup started: disk=data job=%s vault=%s", id, v->id_hex);
	assert_string_equal(last, want);
	assert_int_equal(last_prio, LOG_INFO);
	snprintf(j->point, sizeof(j->point), "20261201T000000Z-0badc0de");
	job_finish(j, 0, NULL);
	assert_int_equal(last_prio, LOG_INFO);
	assert_non_null(strstr(last, "backup finished: disk=data job="));
	assert_string_equal(field(last, " job=", f, sizeof(f)), id);
	assert_string_equal(field(last, " point=", f, sizeof(f)), "20261201T000000Z-0badc0de");
	assert_string_equal(field(last, " bytes=", f, sizeof(f)), "1000");	/* done = total */
	assert_non_null(strstr(field(last, " duration=", f, sizeof(f)), "s"));
	assert_string_equal(field(last, " result=", f, sizeof(f)), "ok");

	assert_int_equal(job_start(v, "restore", "20261201T000000Z-0badc0de", 0, &j), 0);
	assert_non_null(strstr(last, "restore started: point=20261201T000000Z-0badc0de "));
	job_update(j, 4096, 0);
	job_finish(j, -ENOSPC, "write failed");
	assert_int_equal(last_prio, LOG_ERR);
	assert_non_null(strstr(last, "restore failed: point="));
	assert_non_null(strstr(last, " point=- "));	/* no point made */
	assert_string_equal(field(last, " bytes=", f, sizeof(f)), "4096");
	assert_string_equal(field(last, " result=", f, sizeof(f)), "write failed");

	/* No message: the errno's text. */
	assert_int_equal(job_start(v, "rotate", "vault-managed", 0, &j), 0);
	assert_non_null(strstr(last, "rotate started: kek=vault-managed "));
	job_finish(j, -EACCES, NULL);
	assert_string_equal(field(last, " result=", f, sizeof(f)), strerror(EACCES));

	/* Off: jobs run the same, nothing is logged. */
	setenv("CRYPTSNAP_SYSLOG", "0", 1);
	memcpy(before, last, sizeof(last));
	assert_int_equal(job_start(v, "verify", "all", 0, &j), 0);
	job_finish(j, 0, NULL);
	assert_string_equal(last, before);
	unsetenv("CRYPTSNAP_SYSLOG");
	vault_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_job_lines),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
