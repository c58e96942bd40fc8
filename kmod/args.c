// SPDX-License-Identifier: GPL-2.0
/*
 * Argument parsers of the table line and the messages (args.h).  Built into
 * the module and, unchanged, into the userspace fuzz harness: only the
 * string functions both sides have (strcmp, strcasecmp, strchr).
 */
#include "args.h"

static int pow2(u64 x)
{
	return x && !(x & (x - 1));
}

int cs_arg_u64(const char *s, u64 min, u64 max, u64 *v)
{
	u64 x = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (d > 9 || x > (~0ULL - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	if (x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Digits up to the first c (or the end when c is 0), as a number. */
static int number_until(const char *s, char c, u64 max, u64 *v, const char **end)
{
	u64 x = 0;
	const char *p = s;

	for (; *p && *p != c; p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (d > 9)
			return -ENOENT;
		if (x <= max)
			x = x * 10 + d;	/* stops growing past max: no wrap */
	}
	if (p == s || *p != c)
		return -ENOENT;
	*v = x;
	*end = p;
	return 0;
}

int cs_arg_devt(const char *s, u32 *major, u32 *minor)
{
	const u64 maj_max = (1U << 12) - 1, min_max = (1U << 20) - 1;
	const char *p;
	u64 ma, mi;

	if (number_until(s, ':', maj_max, &ma, &p) ||
	    number_until(p + 1, 0, min_max, &mi, &p))
		return -ENOENT;
	if (ma > maj_max || mi > min_max)
		return -EINVAL;
	*major = (u32)ma;
	*minor = (u32)mi;
	return 0;
}

int cs_arg_chunk(const char *s, u64 dev_sectors, u64 max_chunks, u32 *chunk,
		 char **err)
{
	u64 c;

	if (cs_arg_u64(s, 0, 0xffffffffULL, &c)) {
		*err = "Invalid chunk size";
		return -EINVAL;
	}
	if (!pow2(c)) {
		*err = "Chunk size must be a non-zero power of two";
		return -EINVAL;
	}
	if (c < CRYPTSNAP_CHUNK_SECTORS_MIN || c > CRYPTSNAP_CHUNK_SECTORS_MAX) {
		*err = "Chunk size out of range (8..16384 sectors)";
		return -EINVAL;
	}
	if (c > dev_sectors) {
		*err = "Chunk size larger than the backing device";
		return -EINVAL;
	}
	if ((dev_sectors + c - 1) / c > max_chunks) {
		*err = "Too many chunks: use a larger chunk size";
		return -EINVAL;
	}
	*chunk = (u32)c;
	return 0;
}

int cs_arg_features(unsigned int argc, char **argv, char **err)
{
	u64 n;

	if (!argc)
		return 0;
	if (cs_arg_u64(argv[0], 0, CRYPTSNAP_MAX_FEATURE_ARGS, &n) || n > argc - 1) {
		*err = "Invalid number of feature arguments";
		return -EINVAL;
	}
	if (n) {
		*err = "Unknown feature argument";	/* none is defined yet */
		return -EINVAL;
	}
	if (argc > 1) {
		*err = "Unexpected trailing arguments";
		return -EINVAL;
	}
	return 0;
}

/* snap_take's optional COW chunk size: a power of two in range. */
static int cow_chunk(const char *s, u64 dev_sectors, u64 *v)
{
	if (!s) {
		*v = 0;
		return 0;
	}
	if (cs_arg_u64(s, CRYPTSNAP_CHUNK_SECTORS_MIN, CRYPTSNAP_CHUNK_SECTORS_MAX, v) ||
	    !pow2(*v) || *v > dev_sectors)
		return -EINVAL;
	return 0;
}

static const struct {
	const char *name;
	enum cs_msg_verb verb;
	unsigned int min_args, max_args;	/* after the verb */
} verbs[] = {
	{ CRYPTSNAP_MSG_CHANGES, CS_MSG_CHANGES, 1, 2 },
	{ CRYPTSNAP_MSG_RELEASE, CS_MSG_RELEASE, 2, 2 },
	{ CRYPTSNAP_MSG_RELEASE_UNCHANGED, CS_MSG_RELEASE_UNCHANGED, 1, 1 },
	{ CRYPTSNAP_MSG_COW_TIMEOUT, CS_MSG_COW_TIMEOUT, 1, 1 },
	{ CRYPTSNAP_MSG_MEM_LIMIT, CS_MSG_MEM_LIMIT, 1, 1 },
	{ CRYPTSNAP_MSG_SNAP_TAKE, CS_MSG_SNAP_TAKE, 1, 2 },
	{ CRYPTSNAP_MSG_SNAP_DROP, CS_MSG_SNAP_DROP, 0, 0 },
	{ CRYPTSNAP_MSG_COMMIT, CS_MSG_COMMIT, 0, 0 },
	{ CRYPTSNAP_MSG_ABORT, CS_MSG_ABORT, 0, 0 },
	{ CRYPTSNAP_MSG_RESET, CS_MSG_RESET, 0, 0 },
	{ CRYPTSNAP_MSG_LIVE_CHANGES, CS_MSG_LIVE_CHANGES, 1, 2 },
	{ CRYPTSNAP_MSG_ADOPT, CS_MSG_ADOPT, 3, 3 },
	{ CRYPTSNAP_MSG_MERGE, CS_MSG_MERGE, 1, 1 },
};

int cs_arg_next_extent(const char **p, u64 nr_chunks, u64 *start, u64 *len)
{
	const char *e;
	u64 s, l;

	if (number_until(*p, ':', nr_chunks, &s, &e) || s >= nr_chunks)
		return -EINVAL;
	e++;
	if (number_until(e, ',', nr_chunks, &l, p) &&
	    number_until(e, 0, nr_chunks, &l, p))
		return -EINVAL;
	if (!l || l > nr_chunks - s)
		return -EINVAL;
	if (**p == ',') {
		(*p)++;
		if (!**p)
			return -EINVAL;	/* a trailing comma */
	}
	*start = s;
	*len = l;
	return 0;
}

/* A merge list: 1 .. CRYPTSNAP_MSG_MAX_EXTENTS valid extents, nothing else. */
static int extent_list(const char *list, u64 nr_chunks)
{
	const char *p = list;
	u64 s, l, n = 0;

	while (*p) {
		if (n == CRYPTSNAP_MSG_MAX_EXTENTS ||
		    cs_arg_next_extent(&p, nr_chunks, &s, &l))
			return -EINVAL;
		n++;
	}
	return n ? 0 : -EINVAL;
}

static int numbers(char **argv, const struct cs_arg_limits *lim, struct cs_msg *m)
{
	switch (m->verb) {
	case CS_MSG_CHANGES:
	case CS_MSG_LIVE_CHANGES:
		m->b = CRYPTSNAP_MSG_MAX_EXTENTS;
		return cs_arg_u64(argv[1], 0, lim->nr_chunks, &m->a) ||
		       (argv[2] && cs_arg_u64(argv[2], 1, CRYPTSNAP_MSG_MAX_EXTENTS, &m->b)) ?
		       -EINVAL : 0;
	case CS_MSG_RELEASE:
		return cs_arg_u64(argv[1], 0, lim->dev_sectors, &m->a) ||
		       cs_arg_u64(argv[2], 0, lim->dev_sectors, &m->b) ? -EINVAL : 0;
	case CS_MSG_RELEASE_UNCHANGED:
		return cs_arg_u64(argv[1], 0, lim->dev_sectors, &m->a);
	case CS_MSG_COW_TIMEOUT:
		return cs_arg_u64(argv[1], CRYPTSNAP_COW_TIMEOUT_MIN,
				  CRYPTSNAP_COW_TIMEOUT_MAX, &m->a);
	case CS_MSG_MEM_LIMIT:
		/* 0 is the default; else at least the minimum. */
		return cs_arg_u64(argv[1], 0, CRYPTSNAP_MEM_LIMIT_MAX, &m->a) ||
		       (m->a && m->a < CRYPTSNAP_MEM_LIMIT_MIN) ? -EINVAL : 0;
	case CS_MSG_ADOPT:
		/* The uuid's form is checked by the caller (uuid_parse). */
		m->dev = argv[1];
		return cs_arg_u64(argv[2], 0, ~0ULL - 1, &m->a) ||
		       cs_arg_u64(argv[3], 0, m->a, &m->b) ? -EINVAL : 0;
	case CS_MSG_MERGE:
		m->dev = argv[1];
		return extent_list(m->dev, lim->nr_chunks);
	case CS_MSG_SNAP_TAKE:
		m->dev = argv[1];
		return *m->dev ? cow_chunk(argv[2], lim->dev_sectors, &m->a) : -EINVAL;
	default:
		return 0;
	}
}

int cs_arg_message(unsigned int argc, char **argv, const struct cs_arg_limits *lim,
		   struct cs_msg *m)
{
	char *args[4] = { NULL, NULL, NULL, NULL };
	unsigned int i, j;

	memset(m, 0, sizeof(*m));
	if (!argc)
		return -EINVAL;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcasecmp(argv[0], verbs[i].name))
			break;
	if (i == sizeof(verbs) / sizeof(verbs[0]) ||
	    argc - 1 < verbs[i].min_args || argc - 1 > verbs[i].max_args)
		return -EINVAL;
	/* Absent optional arguments read as NULL. */
	for (j = 0; j < argc; j++)
		args[j] = argv[j];
	m->verb = verbs[i].verb;
	return numbers(args, lim, m);
}
