// SPDX-License-Identifier: GPL-2.0
/* Buffers that hold passphrases or key text live in secure memory: the
 * kernel reports their pages locked ("lo") and excluded from dumps
 * ("dd") in /proc/self/smaps, and their contents are what was read. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/secmem.h"
#include "sys/dmparse.h"
#include "sys/protect.h"
#include "sys/source.h"

/* 1 when the mapping holding p has VmFlags lo (locked) and dd (no dump). */
static int locked_nodump(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0, ok = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		uint64_t lo, hi;

		/* A mapping's first line: "<lo>-<hi> perms ..."; field lines
		 * ("Size:", "AnonHugePages:") never scan two numbers. */
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &lo, &hi) == 2) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			ok = strstr(line, " lo") && strstr(line, " dd");
			break;
		}
	}
	fclose(f);
	return ok;
}

static void write_tmp(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_heap_is_not_locked(void **state)
{
	char *h = malloc(100);

	/* The check can fail: ordinary heap is neither locked nor undumped. */
	assert_non_null(h);
	assert_false(locked_nodump(h));
	free(h);
}

static void test_secret_file(void **state)
{
	static const char pass[] = "correct horse battery staple\n";
	char path[] = "/tmp/cs-secret.XXXXXX";
	uint8_t *buf;
	size_t len;

	write_tmp(path, pass);
	assert_int_equal(read_secret_file(path, 8192, &buf, &len), 0);
	assert_int_equal(len, strlen(pass));
	assert_memory_equal(buf, pass, len);
	assert_true(locked_nodump(buf));
	secmem_free(buf);
	assert_int_equal(read_secret_file(path, 4, &buf, &len), -EFBIG);
	/* The passphrase/key file of protect and key escrow. */
	assert_int_equal(key_read(path, &buf, &len), 0);
	assert_memory_equal(buf, pass, len);
	assert_true(locked_nodump(buf));
	secmem_free(buf);
	unlink(path);
}

static void test_crypt_table_text(void **state)
{
	static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	char *out;

	assert_int_equal(crypt_params_rewrite("aes-xts-plain64 :64:logon:cryptsetup:x 0 253:1 32768",
					      key, 7, 9, &out), 0);
	assert_non_null(strstr(out, key));
	assert_true(locked_nodump(out));
	secmem_free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_heap_is_not_locked),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_crypt_table_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
