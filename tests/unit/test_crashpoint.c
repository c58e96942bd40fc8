// SPDX-License-Identifier: GPL-2.0
/* lib/crashpoint.c: CRYPTSNAP_CRASH_AT=name[:n] kills at the n-th passage
 * of name, CRYPTSNAP_CRASH_LIST=FILE records every passage.  The
 * environment is read once per process, so each case runs in a child. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/crashpoint.h"

/* Runs passes "a" then "b", three times, in a child with CRASH_AT=at;
 * returns how many passages it finished (3 * 2 when nothing killed it)
 * or -1 when it was not killed by SIGKILL yet did not finish. */
static int passages_before_kill(const char *at, const char *list)
{
	int fds[2], status, done = 0, i;
	char c;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		if (at)
			setenv("CRYPTSNAP_CRASH_AT", at, 1);
		if (list)
			setenv("CRYPTSNAP_CRASH_LIST", list, 1);
		for (i = 0; i < 3; i++) {
			crashpoint("a");
			(void)!write(fds[1], "x", 1);
			crashpoint("b");
			(void)!write(fds[1], "x", 1);
		}
		_exit(0);
	}
	close(fds[1]);
	while (read(fds[0], &c, 1) == 1)
		done++;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGKILL ? done : -1;
	return WIFEXITED(status) && !WEXITSTATUS(status) ? done : -1;
}

static void test_crash_at(void **state)
{
	assert_int_equal(passages_before_kill(NULL, NULL), 6);
	assert_int_equal(passages_before_kill("a", NULL), 0);
	assert_int_equal(passages_before_kill("b", NULL), 1);
	assert_int_equal(passages_before_kill("b:1", NULL), 1);
	assert_int_equal(passages_before_kill("a:2", NULL), 2);
	assert_int_equal(passages_before_kill("b:3", NULL), 5);
	/* Beyond the last passage, another name, malformed: never killed. */
	assert_int_equal(passages_before_kill("b:4", NULL), 6);
	assert_int_equal(passages_before_kill("c", NULL), 6);
	assert_int_equal(passages_before_kill("ab", NULL), 6);
	assert_int_equal(passages_before_kill("a:0", NULL), 6);
	assert_int_equal(passages_before_kill("a:x", NULL), 6);
	assert_int_equal(passages_before_kill("a:", NULL), 6);
	assert_int_equal(passages_before_kill(":1", NULL), 6);
}

static void test_crash_list(void **state)
{
	char path[] = "/tmp/cryptsnap-crashlist.XXXXXX", buf[64] = { 0 };
	int fd = mkstemp(path);
	ssize_t n;

	assert_true(fd >= 0);
	assert_int_equal(passages_before_kill(NULL, path), 6);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "a\nb\na\nb\na\nb\n");
	/* Both at once: the list holds the passages up to the kill. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(passages_before_kill("a:2", path), 2);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n >= 0);
	buf[n] = 0;
	assert_string_equal(buf, "a\nb\na\n");
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crash_at),
		cmocka_unit_test(test_crash_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
