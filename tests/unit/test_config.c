// SPDX-License-Identifier: GPL-2.0
/* The configuration file parser (lib/config.c over libinih). */
#include <errno.h>
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

#include "lib/config.h"

/* Parses text and expects exactly the errors given, in order (NULL ends). */
static void expect_errors(const char *text, ...)
{
	struct config c;
	const char *want;
	size_t i = 0;
	va_list ap;
	int r;

	r = config_load_string("t.conf", text, &c);
	va_start(ap, text);
	while ((want = va_arg(ap, const char *))) {
		if (i >= c.nerrors)
			fail_msg("missing error '%s'", want);
		assert_string_equal(c.errors[i], want);
		i++;
	}
	va_end(ap);
	if (i < c.nerrors)
		fail_msg("unexpected error '%s'", c.errors[i]);
	assert_int_equal(r, i ? -EINVAL : 0);
	config_free(&c);
}

static const char *full =
	"# comment\n"
	"; comment\n"
	"\n"
	"[defaults]\n"
	"vault = /var/backups/vault\n"
	"kek = /root/kek.pem\n"
	"cow-dir = /var/lib/cryptsnap/cow\n"
	"cow-size = 4G\n"
	"chunk-size = 64K\n"
	"schedule = daily 02:30\n"
	"keep-last = 3\n"
	"keep-daily = 7\n"
	"keep-weekly = 4\n"
	"keep-monthly = 12\n"
	"keep-yearly = 7\n"
	"pre-freeze = /usr/local/sbin/freeze\n"
	"post-thaw = /usr/local/sbin/thaw   ; inline comment\n"
	"\n"
	"  [disk \"data\"]  # comment\n"
	"vault = /mnt/other\n"
	"schedule = weekly mon,thu,sun 23:59\n"
	"keep-daily = 0\n"
	"[disk \"logs\"]\n"
	"schedule = manual\n";

static void test_every_key(void **state)
{
	const struct config_section *d;
	struct config_section e;
	struct config c;

	assert_int_equal(config_load_string("t.conf", full, &c), 0);
	assert_int_equal(c.nerrors, 0);
	assert_int_equal(c.defaults.line, 4);
	assert_string_equal(c.defaults.vault, "/var/backups/vault");
	assert_string_equal(c.defaults.kek, "/root/kek.pem");
	assert_string_equal(c.defaults.cow_dir, "/var/lib/cryptsnap/cow");
	assert_true(c.defaults.cow_size == 4ull << 30);
	assert_int_equal(c.defaults.chunk_size, 65536);
	assert_int_equal(c.defaults.schedule.kind, SCHED_DAILY);
	assert_int_equal(c.defaults.schedule.hour, 2);
	assert_int_equal(c.defaults.schedule.minute, 30);
	assert_int_equal(c.defaults.keep_last, 3);
	assert_int_equal(c.defaults.keep_daily, 7);
	assert_int_equal(c.defaults.keep_weekly, 4);
	assert_int_equal(c.defaults.keep_monthly, 12);
	assert_int_equal(c.defaults.keep_yearly, 7);
	assert_string_equal(c.defaults.pre_freeze, "/usr/local/sbin/freeze");
	assert_string_equal(c.defaults.post_thaw, "/usr/local/sbin/thaw");
	assert_int_equal(c.defaults.set, (1u << 13) - 1);
	assert_int_equal(c.ndisks, 2);

	d = config_disk_section(&c, "data");
	assert_non_null(d);
	assert_int_equal(d->line, 19);
	assert_int_equal(d->set, CFG_VAULT | CFG_SCHEDULE | CFG_KEEP_DAILY);
	assert_int_equal(d->schedule.kind, SCHED_WEEKLY);
	assert_int_equal(d->schedule.days, 1 | 1 << 3 | 1 << 6);
	assert_null(config_disk_section(&c, "nope"));

	/* The disk's keys over [defaults]; the rest inherited. */
	config_for_disk(&c, "data", &e);
	assert_string_equal(e.name, "data");
	assert_string_equal(e.vault, "/mnt/other");
	assert_string_equal(e.kek, "/root/kek.pem");
	assert_int_equal(e.keep_daily, 0);
	assert_int_equal(e.keep_weekly, 4);
	assert_int_equal(e.schedule.kind, SCHED_WEEKLY);
	config_for_disk(&c, "logs", &e);
	assert_int_equal(e.schedule.kind, SCHED_MANUAL);
	assert_string_equal(e.vault, "/var/backups/vault");
	config_for_disk(&c, "other", &e);
	assert_int_equal(e.schedule.kind, SCHED_DAILY);
	config_free(&c);
}

static void test_empty_and_comments(void **state)
{
	expect_errors("", NULL);
	expect_errors("# only\n;comments\n\n   \n", NULL);
	expect_errors("\xEF\xBB\xBF[defaults]\nvault = /v\n", NULL);
	expect_errors("[defaults]\r\nvault = /v\r\n", NULL);
}

/* An indented line is an ordinary line, never a continuation of a value. */
static void test_indented_lines(void **state)
{
	struct config c;

	assert_int_equal(config_load_string("t.conf", "[defaults]\nvault = /v\n\n"
					    "  [disk \"a\"]\n  kek = /k\n", &c), 0);
	assert_string_equal(c.defaults.vault, "/v");
	assert_int_equal(c.ndisks, 1);
	assert_string_equal(c.disks[0].kek, "/k");
	config_free(&c);
	expect_errors("[defaults]\nvault = /v\n  /continued\n",
		      "t.conf:3: not a section, a \"key = value\" line or a comment", NULL);
	expect_errors("[defaults]\nvault: /v\n", "t.conf:2: ':' where '=' belongs (key = value)", NULL);
}

static void test_every_error_with_its_line(void **state)
{
	expect_errors("vault = /x\n"
		      "[defaults]\n"
		      "bogus = 1\n"
		      "keep-daily = 7\n"
		      "keep-daily = 8\n"
		      "no equals sign\n"
		      "vault = relative\n",
		      "t.conf:1: 'vault' outside a section ([defaults] or [disk \"NAME\"])",
		      "t.conf:3: unknown key 'bogus'",
		      "t.conf:5: 'keep-daily' set twice in this section (first on line 4)",
		      "t.conf:6: not a section, a \"key = value\" line or a comment",
		      "t.conf:7: vault = relative: not an absolute path or an s3:// URL", NULL);
	/* The last line, without a newline, is checked too. */
	expect_errors("[defaults]\nnot a pair",
		      "t.conf:2: not a section, a \"key = value\" line or a comment", NULL);
}

static void test_sections(void **state)
{
	expect_errors("[defaults]\n[defaults]\n",
		      "t.conf:2: [defaults] appears twice (first on line 1)", NULL);
	expect_errors("[disk \"a\"]\n[disk \"a\"]\n",
		      "t.conf:2: [disk \"a\"] appears twice (first on line 1)", NULL);
	expect_errors("[other]\nvault = /x\n",
		      "t.conf:1: unknown section [other] (sections: [defaults], [disk \"NAME\"])", NULL);
	expect_errors("[disk data]\n",
		      "t.conf:1: unknown section [disk data] (sections: [defaults], [disk \"NAME\"])", NULL);
	expect_errors("[disk \"a b\"]\n",
		      "t.conf:1: bad disk name \"a b\" ([A-Za-z0-9_.-], at most 64)", NULL);
	expect_errors("[disk \"-x\"]\n",
		      "t.conf:1: bad disk name \"-x\" ([A-Za-z0-9_.-], at most 64)", NULL);
	expect_errors("[defaults\n", "t.conf:1: section header without ']'", NULL);
	expect_errors("[defaults] x\n", "t.conf:1: text after the section header", NULL);
	/* Keys under a bad header are not reported one by one. */
	expect_errors("[bad\nbogus = 1\nvault = x\n[defaults]\nbogus = 2\n",
		      "t.conf:1: section header without ']'",
		      "t.conf:5: unknown key 'bogus'", NULL);
}

static void test_values(void **state)
{
	expect_errors("[defaults]\n"
		      "cow-size = 12Q\n"
		      "[disk \"a\"]\ncow-size = 512K\n"
		      "[disk \"b\"]\ncow-size = -1G\n"
		      "[disk \"c\"]\ncow-size = 1M\n"
		      "[disk \"d\"]\nchunk-size = 3K\n"
		      "[disk \"e\"]\nchunk-size = 16M\n"
		      "[disk \"f\"]\nchunk-size = 4K\n",
		      "t.conf:2: cow-size = 12Q: not a size (a number with an optional K, M, G, T or P suffix)",
		      "t.conf:4: cow-size = 512K: smaller than 1M",
		      "t.conf:6: cow-size = -1G: not a size (a number with an optional K, M, G, T or P suffix)",
		      "t.conf:10: chunk-size = 3K: not a power of two from 4K to 8M",
		      "t.conf:12: chunk-size = 16M: not a power of two from 4K to 8M", NULL);
	expect_errors("[defaults]\nkeep-daily = -1\n[disk \"a\"]\nkeep-daily = 7x\n"
		      "[disk \"b\"]\nkeep-daily = 100001\n[disk \"c\"]\nkeep-daily = 100000\n"
		      "[disk \"d\"]\nkeep-daily =\n",
		      "t.conf:2: keep-daily = -1: not a whole number from 0 to 100000",
		      "t.conf:4: keep-daily = 7x: not a whole number from 0 to 100000",
		      "t.conf:6: keep-daily = 100001: not a whole number from 0 to 100000",
		      "t.conf:10: 'keep-daily' has no value", NULL);
}

static void test_schedules(void **state)
{
	static const char *const good[] = {
		"manual", "daily 00:00", "daily 23:59", "weekly mon 01:00",
		"weekly mon,tue,wed,thu,fri,sat,sun 12:00",
	};
	static const char *const bad[] = {
		"hourly", "daily", "daily 24:00", "daily 2:30", "daily 02:60", "daily 02:30 x",
		"weekly 02:30", "weekly mon,mon 02:30", "weekly monday 02:30",
		"weekly mon, 02:30", "manual now",
	};
	char text[128], want[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[defaults]\nschedule = %s\n", good[i]);
		expect_errors(text, NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[defaults]\nschedule = %s\n", bad[i]);
		snprintf(want, sizeof(want), "t.conf:2: schedule = %s: not \"manual\", \"daily HH:MM\" "
			 "or \"weekly DAY[,DAY...] HH:MM\" (days mon..sun)", bad[i]);
		expect_errors(text, want, NULL);
	}
}

/* Calendar of a parsed schedule. */
static void expect_calendar(const char *sched, int want_r, const char *want)
{
	char text[128], cal[CONFIG_CALENDAR_MAX];
	struct config c;

	snprintf(text, sizeof(text), "[defaults]\nschedule = %s\n", sched);
	assert_int_equal(config_load_string("t.conf", text, &c), 0);
	assert_int_equal(config_schedule_calendar(&c.defaults.schedule, cal, sizeof(cal)), want_r);
	if (want)
		assert_string_equal(cal, want);
	config_free(&c);
}

static void test_calendar(void **state)
{
	struct config_schedule s = { .kind = SCHED_WEEKLY, .days = 0x7f, .hour = 23, .minute = 59 };
	char cal[CONFIG_CALENDAR_MAX];

	expect_calendar("daily 02:30", 0, "*-*-* 02:30:00");
	expect_calendar("daily 00:00", 0, "*-*-* 00:00:00");
	expect_calendar("weekly thu,mon 01:05", 0, "Mon,Thu *-*-* 01:05:00");
	expect_calendar("weekly sun 23:59", 0, "Sun *-*-* 23:59:00");
	expect_calendar("weekly mon,tue,wed,thu,fri,sat,sun 12:00", 0,
			"Mon,Tue,Wed,Thu,Fri,Sat,Sun *-*-* 12:00:00");
	expect_calendar("manual", -ENOENT, NULL);

	/* The longest value fits CONFIG_CALENDAR_MAX; one byte less does not. */
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), 0);
	assert_int_equal(config_schedule_calendar(&s, cal, strlen(cal)), -ENAMETOOLONG);
	/* Structs the parser never makes are refused, not turned into text. */
	s.days = 0;
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -EINVAL);
	s.days = 0x80 | 1;
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -EINVAL);
	s = (struct config_schedule){ .kind = SCHED_DAILY, .hour = 24 };
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -EINVAL);
	s = (struct config_schedule){ .kind = SCHED_DAILY, .minute = 60 };
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -EINVAL);
	s = (struct config_schedule){ .kind = 7 };
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -EINVAL);
	s = (struct config_schedule){ .kind = SCHED_UNSET };
	assert_int_equal(config_schedule_calendar(&s, cal, sizeof(cal)), -ENOENT);
}

static void test_long_line(void **state)
{
	char text[1024];

	snprintf(text, sizeof(text), "[defaults]\nvault = /%0600d\nkek = x\n", 0);
	expect_errors(text, "t.conf:2: line longer than 197 characters",
		      "t.conf:3: kek = x: not an absolute path", NULL);
}

static void test_files(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct config c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[defaults]\nvault = /v\n", 22), 22);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(config_load(path, 1, &c), 0);
	assert_int_equal(c.found, 1);
	assert_string_equal(c.defaults.vault, "/v");
	config_free(&c);

	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(config_load(path, 1, &c), -EINVAL);
	assert_int_equal(c.nerrors, 1);
	assert_non_null(strstr(c.errors[0], "writable by group or others"));
	config_free(&c);
	unlink(path);

	assert_int_equal(config_load(path, 0, &c), 0);
	assert_int_equal(c.found, 0);
	config_free(&c);
	assert_int_equal(config_load(path, 1, &c), -ENOENT);
	assert_int_equal(c.nerrors, 1);
	config_free(&c);
	assert_int_equal(config_load("/tmp", 1, &c), -EINVAL);
	config_free(&c);
}

/* Random files of config fragments: never a crash, every error located. */
static void test_random_input(void **state)
{
	static const char *const frags[] = {
		"[defaults]", "[disk \"a\"]", "[disk \"", "[", "]", "vault", "=", " = ", "/x",
		"keep-daily", "7", "schedule", "weekly mon,tue 01:00", "daily 2", "\n", "\n", "\n",
		";", "#", ":", "\t", "  ", "cow-size", "4G", "99999999999999999999G", "chunk-size",
		"\xEF\xBB\xBF", "\r", "kek", "x",
	};
	struct config_section e;
	struct config c;
	char buf[2048];
	unsigned int seed;
	size_t n, i;
	int k;

	for (seed = 0; seed < 20000; seed++) {
		srand(seed);
		for (n = 0, k = rand() % 40; k > 0; k--)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s",
					      frags[rand() % (int)(sizeof(frags) / sizeof(frags[0]))]);
		if (rand() % 10 == 0) {
			memset(buf + n, 'a', 300);
			n += 300;
		}
		buf[n] = 0;
		if (config_load_string("f", buf, &c) == -EINVAL)
			assert_true(c.nerrors > 0);
		for (i = 0; i < c.nerrors; i++)
			assert_true(!strncmp(c.errors[i], "f:", 2) && c.errors[i][2] >= '1' &&
				    c.errors[i][2] <= '9');
		config_for_disk(&c, "a", &e);
		config_free(&c);
	}
}

static void test_path(void **state)
{
	unsetenv("CRYPTSNAP_CONFIG");
	assert_string_equal(config_path(), CONFIG_DEFAULT_PATH);
	setenv("CRYPTSNAP_CONFIG", "", 1);
	assert_string_equal(config_path(), CONFIG_DEFAULT_PATH);
	setenv("CRYPTSNAP_CONFIG", "/x.conf", 1);
	assert_string_equal(config_path(), "/x.conf");
	unsetenv("CRYPTSNAP_CONFIG");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_empty_and_comments),
		cmocka_unit_test(test_indented_lines),
		cmocka_unit_test(test_every_error_with_its_line),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_schedules),
		cmocka_unit_test(test_calendar),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_random_input),
		cmocka_unit_test(test_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
