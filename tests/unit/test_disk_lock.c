// SPDX-License-Identifier: GPL-2.0
/* The host's per-disk lock (sys/disk_lock.c): exclusive between
 * processes, names its holder, refuses planted files, survives the file
 * being removed by unprotect. */
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

#include "sys/disk_lock.h"
#include "sys/disk_state.h"

static char dir[] = "/tmp/cs-disk-lock.XXXXXX";

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	setenv("CRYPTSNAP_STATE_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

/* In a child: the result of trying the lock, and the holder it saw. */
static int try_in_child(const char *name, pid_t *holder)
{
	int p[2], st, r;
	pid_t pid;
	long got[2] = { 0, 0 };

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fd;
		pid_t h;

		got[0] = disk_lock(name, &fd, &h);
		got[1] = h;
		if (write(p[1], got, sizeof(got)) != sizeof(got))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], got, sizeof(got)), sizeof(got));
	close(p[0]);
	waitpid(pid, &st, 0);
	r = (int)got[0];
	*holder = (pid_t)got[1];
	return r;
}

static void lock_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/disks/%s.lock", dir, name);
}

static void test_exclusive_and_holder(void **state)
{
	struct stat st;
	char p[256];
	pid_t holder;
	int fd;

	assert_int_equal(disk_lock("d1", &fd, &holder), 0);
	assert_true(fd >= 0);
	lock_path("d1", p, sizeof(p));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(try_in_child("d1", &holder), -EBUSY);
	assert_int_equal(holder, getpid());
	/* Another disk is independent. */
	assert_int_equal(try_in_child("d2", &holder), 0);
	disk_unlock(fd);
	assert_int_equal(try_in_child("d1", &holder), 0);
}

static void test_bad_names(void **state)
{
	pid_t holder;
	int fd;

	assert_int_equal(disk_lock("../x", &fd, &holder), -EINVAL);
	assert_int_equal(disk_lock("", &fd, &holder), -EINVAL);
	assert_int_equal(disk_lock("a/b", &fd, &holder), -EINVAL);
	assert_int_equal(fd, -1);
}

static void test_planted_files(void **state)
{
	char p[256], target[256];
	pid_t holder;
	int fd, t;

	lock_path("sym", p, sizeof(p));
	snprintf(target, sizeof(target), "%s/target", dir);
	t = open(target, O_CREAT | O_WRONLY, 0600);
	assert_true(t >= 0);
	close(t);
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(disk_lock("sym", &fd, &holder), -ELOOP);
	lock_path("open", p, sizeof(p));
	t = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(t >= 0);
	assert_int_equal(fchmod(t, 0644), 0);
	close(t);
	assert_int_equal(disk_lock("open", &fd, &holder), -EPERM);
}

static void test_removed_while_held(void **state)
{
	pid_t holder;
	int fd, fd2;

	assert_int_equal(disk_lock("gone", &fd, &holder), 0);
	disk_unlock_remove("gone", fd);
	assert_int_equal(disk_lock("gone", &fd2, &holder), 0);
	assert_int_equal(try_in_child("gone", &holder), -EBUSY);
	disk_unlock(fd2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusive_and_holder),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_planted_files),
		cmocka_unit_test(test_removed_while_held),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
