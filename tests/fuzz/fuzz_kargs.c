// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel module's argument parsers (kmod/args.c), built as userspace
 * code.  Byte 0 picks the parser, bytes 1..4 (LE) are the backing
 * device's size in sectors, the rest is split on spaces into arguments
 * the way device-mapper splits a table line or a message:
 *   0: the table's chunk size and feature arguments;
 *   1: a message (verb and arguments);
 *   2: a "major:minor" device argument.
 * Besides not crashing, whatever is accepted must be within the limits
 * the module relies on afterwards.
 */
#include <ctype.h>
#include <errno.h>

#include "args.h"
#include "fuzz.h"

#define MAX_ARGS 16
#define MAX_CHUNKS (1ULL << 32)

static unsigned int split(char *s, char **argv)
{
	unsigned int n = 0;

	for (s = strtok(s, " \t\n"); s && n < MAX_ARGS; s = strtok(NULL, " \t\n"))
		argv[n++] = s;
	return n;
}

static int digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static void table(unsigned int argc, char **argv, u64 dev_sectors)
{
	char *err = NULL;
	u32 chunk;

	if (!argc)
		return;
	if (cs_arg_chunk(argv[0], dev_sectors, MAX_CHUNKS, &chunk, &err)) {
		if (!err)
			abort();	/* every refusal names its reason */
	} else if (!digits(argv[0]) || chunk < CRYPTSNAP_CHUNK_SECTORS_MIN ||
		   chunk > CRYPTSNAP_CHUNK_SECTORS_MAX || (chunk & (chunk - 1)) ||
		   chunk > dev_sectors || (dev_sectors + chunk - 1) / chunk > MAX_CHUNKS) {
		abort();
	}
	err = NULL;
	if (cs_arg_features(argc - 1, argv + 1, &err) ? !err : argc - 1 > 1)
		abort();
}

/* An accepted merge list: every extent inside the device, not empty, at
 * most CRYPTSNAP_MSG_MAX_EXTENTS of them, nothing left over. */
static int merge_list_ok(const char *p, u64 nr_chunks)
{
	u64 start, len, n = 0;

	if (!p || !*p)
		return 0;
	while (*p) {
		if (cs_arg_next_extent(&p, nr_chunks, &start, &len) ||
		    !len || start >= nr_chunks || len > nr_chunks - start)
			return 0;
		n++;
	}
	return n <= CRYPTSNAP_MSG_MAX_EXTENTS;
}

static void message(unsigned int argc, char **argv, u64 dev_sectors)
{
	struct cs_arg_limits lim = { .dev_sectors = dev_sectors,
				     .nr_chunks = (dev_sectors + 127) / 128 };
	struct cs_msg m;
	int bad = 0;

	if (cs_arg_message(argc, argv, &lim, &m))
		return;
	switch (m.verb) {
	case CS_MSG_CHANGES:
	case CS_MSG_LIVE_CHANGES:
		bad = m.a > lim.nr_chunks || !m.b || m.b > CRYPTSNAP_MSG_MAX_EXTENTS;
		break;
	case CS_MSG_RELEASE:
		bad = m.a > dev_sectors || m.b > dev_sectors;
		break;
	case CS_MSG_RELEASE_UNCHANGED:
		bad = m.a > dev_sectors;
		break;
	case CS_MSG_COW_TIMEOUT:
		bad = m.a < CRYPTSNAP_COW_TIMEOUT_MIN || m.a > CRYPTSNAP_COW_TIMEOUT_MAX;
		break;
	case CS_MSG_MEM_LIMIT:
		bad = (m.a && m.a < CRYPTSNAP_MEM_LIMIT_MIN) || m.a > CRYPTSNAP_MEM_LIMIT_MAX;
		break;
	case CS_MSG_SNAP_TAKE:
		bad = !m.dev || !*m.dev || (m.a && (m.a < CRYPTSNAP_CHUNK_SECTORS_MIN ||
			m.a > CRYPTSNAP_CHUNK_SECTORS_MAX || (m.a & (m.a - 1)) ||
			m.a > dev_sectors));
		break;
	case CS_MSG_ADOPT:
		bad = !m.dev || m.b > m.a;
		break;
	case CS_MSG_MERGE:
		bad = !merge_list_ok(m.dev, lim.nr_chunks);
		break;
	case CS_MSG_SNAP_DROP: case CS_MSG_COMMIT: case CS_MSG_ABORT: case CS_MSG_RESET:
		bad = argc != 1;
		break;
	default:
		bad = 1;
	}
	if (bad)
		abort();
}

static void devt(const char *s)
{
	u32 ma, mi;

	if (!cs_arg_devt(s, &ma, &mi) && (ma >= 1U << 12 || mi >= 1U << 20 || !strchr(s, ':')))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS], *s;
	unsigned int argc;
	u64 dev_sectors;

	if (size < 5)
		return 0;
	dev_sectors = data[1] | data[2] << 8 | data[3] << 16 | (u64)data[4] << 24;
	s = fuzz_str(data + 5, size - 5);
	switch (data[0] % 3) {
	case 0:
		argc = split(s, argv);
		table(argc, argv, dev_sectors);
		break;
	case 1:
		argc = split(s, argv);
		message(argc, argv, dev_sectors);
		break;
	case 2:
		devt(s);
		break;
	}
	free(s);
	return 0;
}
