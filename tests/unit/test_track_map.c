// SPDX-License-Identifier: GPL-2.0
/* The saved change map (sys/track_map.c): file round trip, every reason
 * to refuse it, damaged files, and the consume-once file handling. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "sys/disk_state.h"
#include "sys/track_map.h"

#define LUKS	"0b7c3c1e-5e0f-4c59-9d3a-2a0d5b3e6f10"
#define SIZE	(64ULL << 20)		/* 1024 chunks of 64 KiB */
#define HDR	(8 + 4 + 4 + 8 + 3 * 40 + 7 * 8)

static char dir[] = "/tmp/cs-track-map.XXXXXX";

static const struct track_disk disk = { LUKS, SIZE, 128 };

static void sample(struct track_map *m)
{
	memset(m, 0, sizeof(*m));
	m->chunk_sectors = 128;
	m->size = SIZE;
	strcpy(m->luks_uuid, LUKS);
	strcpy(m->gen_uuid, "6a0f1c52-2f9e-4d7a-8f55-0c8d1e2b3a44");
	m->counter = 7;
	m->base = 6;
	strcpy(m->env.boot_id, "boot-a");
	m->env.btime = 1000;
	m->env.now = 5000;
	m->env.writes = 42;
	m->env.discards = 3;
	assert_int_equal(track_map_add(m, 0, 1), 0);
	assert_int_equal(track_map_add(m, 5, 10), 0);
	assert_int_equal(track_map_add(m, 1000, 24), 0);
}

/* The same boot, nothing written since the save. */
static struct track_env same_env(void)
{
	struct track_env e = { .btime = 1000, .now = 6000, .writes = 42, .discards = 3 };

	strcpy(e.boot_id, "boot-a");
	return e;
}

/* The next boot, begun after the save. */
static struct track_env next_env(void)
{
	struct track_env e = { .btime = 5100, .now = 5200 };

	strcpy(e.boot_id, "boot-b");
	return e;
}

static void encode(const struct track_map *m, uint8_t **buf, size_t *len)
{
	assert_int_equal(track_map_encode(m, buf, len), 0);
}

static void test_round_trip(void **state)
{
	struct track_map m, back;
	uint8_t *buf;
	size_t len;

	sample(&m);
	encode(&m, &buf, &len);
	assert_int_equal(len, HDR + 3 * 16 + 32);
	assert_int_equal(track_map_decode(buf, len, &back), 0);
	assert_string_equal(back.luks_uuid, LUKS);
	assert_string_equal(back.gen_uuid, m.gen_uuid);
	assert_string_equal(back.env.boot_id, "boot-a");
	assert_int_equal(back.counter, 7);
	assert_int_equal(back.base, 6);
	assert_int_equal(back.env.writes, 42);
	assert_int_equal(back.env.discards, 3);
	assert_int_equal(back.n, 3);
	assert_memory_equal(back.ext, m.ext, 6 * sizeof(uint64_t));
	track_map_free(&back);
	track_map_free(&m);
	free(buf);
}

static void test_empty_map_round_trip(void **state)
{
	struct track_map m, back;
	uint8_t *buf;
	size_t len;

	sample(&m);
	track_map_free(&m);
	encode(&m, &buf, &len);
	assert_int_equal(track_map_decode(buf, len, &back), 0);
	assert_int_equal(back.n, 0);
	track_map_free(&back);
	free(buf);
}

static int check(const struct track_map *m, const struct track_disk *d,
		 const struct track_env *e, char *why)
{
	why[0] = 0;
	return track_map_check(m, d, e, why, 256);
}

static void test_accepts(void **state)
{
	struct track_env same = same_env(), next = next_env();
	struct track_map m;
	char why[256];

	sample(&m);
	assert_int_equal(check(&m, &disk, &same, why), 0);
	assert_int_equal(check(&m, &disk, &next, why), 0);
	track_map_free(&m);
}

static void test_rejects_writes_same_boot(void **state)
{
	struct track_env e = same_env();
	struct track_map m;
	char why[256];

	sample(&m);
	e.writes++;
	assert_int_equal(check(&m, &disk, &e, why), -ESTALE);
	assert_non_null(strstr(why, "written"));
	e = same_env();
	e.discards++;
	assert_int_equal(check(&m, &disk, &e, why), -ESTALE);
	assert_non_null(strstr(why, "1 discards"));
	track_map_free(&m);
}

static void test_rejects_other_disk(void **state)
{
	struct track_disk d = disk;
	struct track_env e = next_env();
	struct track_map m;
	char why[256];

	sample(&m);
	d.luks_uuid = "11111111-2222-3333-4444-555555555555";
	assert_int_equal(check(&m, &d, &e, why), -ESTALE);
	assert_non_null(strstr(why, "LUKS device"));
	d = disk;
	d.size += 1 << 20;
	assert_int_equal(check(&m, &d, &e, why), -ESTALE);
	assert_non_null(strstr(why, "size"));
	d = disk;
	d.chunk_sectors = 256;
	assert_int_equal(check(&m, &d, &e, why), -ESTALE);
	track_map_free(&m);
}

/* Saved after this boot began by another boot: clock or boot id lies. */
static void test_rejects_saved_after_boot(void **state)
{
	struct track_env e = next_env();
	struct track_map m;
	char why[256];

	sample(&m);
	e.btime = m.env.now;
	assert_int_equal(check(&m, &disk, &e, why), -ESTALE);
	assert_non_null(strstr(why, "after this boot began"));
	e = next_env();
	m.env.btime = m.env.now + 1;
	assert_int_equal(check(&m, &disk, &e, why), -ESTALE);
	assert_non_null(strstr(why, "before its own boot"));
	track_map_free(&m);
}

static void test_rejects_no_generation(void **state)
{
	struct track_env e = next_env();
	struct track_map m;
	char why[256];

	sample(&m);
	m.counter = m.base = 0;
	assert_int_equal(check(&m, &disk, &e, why), -ESTALE);
	assert_non_null(strstr(why, "no snapshot"));
	track_map_free(&m);
}

/* Rewrites the checksum after a deliberate edit. */
static void reseal(uint8_t *buf, size_t len)
{
	assert_int_equal(crypto_sha256(buf, len - 32, buf + len - 32), 0);
}

static void test_corrupt(void **state)
{
	struct track_map m, back;
	uint8_t *buf;
	size_t len, i;

	sample(&m);
	encode(&m, &buf, &len);
	/* Any flipped byte, truncation or extension fails. */
	for (i = 0; i < len; i += 7) {
		buf[i] ^= 0x40;
		assert_int_not_equal(track_map_decode(buf, len, &back), 0);
		buf[i] ^= 0x40;
	}
	for (i = 0; i < len; i += 13)
		assert_int_equal(track_map_decode(buf, i, &back), -EBADMSG);
	assert_int_equal(track_map_decode(buf, len - 1, &back), -EBADMSG);
	/* Other version, resealed. */
	put_le32(buf + 8, 2);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -EPROTONOSUPPORT);
	put_le32(buf + 8, TRACK_MAP_VERSION);
	/* Overlapping extents, resealed: 5+10 then 14. */
	put_le64(buf + HDR + 32, 14);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -EUCLEAN);
	/* An extent past the end of the device. */
	put_le64(buf + HDR + 32, 1000);
	put_le64(buf + HDR + 40, 25);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -EUCLEAN);
	track_map_free(&m);
	free(buf);
}

/* A count the file cannot hold is refused before any allocation. */
static void test_oversize_count(void **state)
{
	struct track_map m, back;
	uint8_t *buf;
	size_t len;

	sample(&m);
	encode(&m, &buf, &len);
	put_le64(buf + HDR - 8, 1ULL << 40);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -E2BIG);
	put_le64(buf + HDR - 8, 4);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -E2BIG);
	put_le64(buf + HDR - 8, 2);
	reseal(buf, len);
	assert_int_equal(track_map_decode(buf, len, &back), -EUCLEAN);
	track_map_free(&m);
	free(buf);
}

/* Saved 0600, taken once: a second boot finds nothing. */
static void test_save_take_once(void **state)
{
	struct track_map m, back;
	char path[256];
	struct stat st;
	uint8_t *buf;
	size_t len;

	sample(&m);
	assert_int_equal(disk_state_prepare(), 0);
	assert_int_equal(track_map_save("d1", &m), 0);
	snprintf(path, sizeof(path), "%s/disks/d1.map", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(track_map_take("d1", &buf, &len), 0);
	assert_int_equal(track_map_decode(buf, len, &back), 0);
	free(buf);
	assert_int_equal(back.n, 3);
	assert_int_equal(track_map_take("d1", &buf, &len) == -ENOENT, 1);
	assert_int_equal(track_map_save("../x", &m), -EINVAL);
	track_map_free(&back);
	track_map_free(&m);
}

/* The host facts come from the hook files when they are given. */
static void test_env_hooks(void **state)
{
	struct track_env e;
	char id[256], st[256];
	FILE *f;

	snprintf(id, sizeof(id), "%s/boot_id", dir);
	snprintf(st, sizeof(st), "%s/stat", dir);
	f = fopen(id, "w");
	fputs("f00dfeed-0000-4000-8000-000000000001\n", f);
	fclose(f);
	f = fopen(st, "w");
	fputs("cpu  1 2 3\nbtime 1234567\nprocesses 9\n", f);
	fclose(f);
	setenv("CRYPTSNAP_BOOT_ID_FILE", id, 1);
	setenv("CRYPTSNAP_PROC_STAT", st, 1);
	/* /dev/null's counters are not there: the device part fails. */
	assert_int_not_equal(track_env_read(makedev(1, 3), &e), 0);
	assert_string_equal(e.boot_id, "f00dfeed-0000-4000-8000-000000000001");
	assert_int_equal(e.btime, 1234567);
	unsetenv("CRYPTSNAP_BOOT_ID_FILE");
	unsetenv("CRYPTSNAP_PROC_STAT");
}

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_empty_map_round_trip),
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_rejects_writes_same_boot),
		cmocka_unit_test(test_rejects_other_disk),
		cmocka_unit_test(test_rejects_saved_after_boot),
		cmocka_unit_test(test_rejects_no_generation),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_oversize_count),
		cmocka_unit_test(test_save_take_once),
		cmocka_unit_test(test_env_hooks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
