// SPDX-License-Identifier: GPL-2.0
/* Secure memory (lib/secmem.c): memory that cannot be locked is refused,
 * never handed out; the process hardening takes effect. */
#include <errno.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/secmem.h"

static void test_alloc_wipe_free(void **state)
{
	uint8_t *p = secmem_alloc(100);

	assert_non_null(p);
	memset(p, 0xa5, 100);
	secmem_wipe(p, 100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(p[i], 0);
	secmem_free(p);
	secmem_free(NULL);
	assert_false(secmem_lock_failed());
	assert_int_equal(secmem_probe(64 << 10), 0);
}

/* Without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0 (what a misconfigured
 * run has), in a child so the test process keeps its capabilities. */
static int no_lock_child(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	struct rlimit none = { 0, 0 };

	if (syscall(SYS_capget, &h, d))
		return 10;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	d[CAP_IPC_LOCK / 32].permitted &= ~(1U << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &h, d) || setrlimit(RLIMIT_MEMLOCK, &none))
		return 11;
	if (secmem_lock_failed())
		return 12;
	if (secmem_probe(4096) >= 0)
		return 13;
	if (secmem_alloc(32) != NULL)
		return 14;	/* unlocked key memory handed out */
	if (!secmem_lock_failed())
		return 15;
	return 0;
}

static void test_unlockable_refused(void **state)
{
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (!pid)
		_exit(no_lock_child());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_harden(void **state)
{
	uint64_t core;
	int dumpable;

	assert_int_equal(secmem_harden_process(), 0);
	assert_int_equal(secmem_process_state(&dumpable, &core), 0);
	assert_int_equal(dumpable, 0);
	assert_int_equal(core, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_wipe_free),
		cmocka_unit_test(test_unlockable_refused),
		cmocka_unit_test(test_harden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
