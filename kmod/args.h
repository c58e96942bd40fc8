/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_ARGS_H
#define CRYPTSNAP_ARGS_H

/*
 * The parsers of the table line's and the messages' arguments: pure string
 * work with no kernel calls, so the same args.c is built into the module
 * and, as userspace code, into the fuzz harness tests/fuzz/fuzz_kargs.c.
 * The shim below is all that differs between the two.
 */
#ifdef __KERNEL__
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>
#else
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
typedef uint64_t u64;
typedef uint32_t u32;
#endif

#include "cryptsnap-dm.h"

/* What a message's numbers are checked against. */
struct cs_arg_limits {
	u64 dev_sectors;		/* the backing device */
	u64 nr_chunks;			/* tracking chunks */
};

enum cs_msg_verb {
	CS_MSG_CHANGES = 1,		/* a: from chunk, b: most extents */
	CS_MSG_RELEASE,			/* a: start sector, b: sectors */
	CS_MSG_RELEASE_UNCHANGED,	/* a: sectors kept */
	CS_MSG_COW_TIMEOUT,		/* a: seconds */
	CS_MSG_MEM_LIMIT,		/* a: bytes, 0 the default */
	CS_MSG_SNAP_TAKE,		/* dev, a: COW chunk sectors (0: tracking's) */
	CS_MSG_SNAP_DROP,
	CS_MSG_COMMIT,
	CS_MSG_ABORT,
	CS_MSG_RESET,
	CS_MSG_LIVE_CHANGES,		/* a: from chunk, b: most extents */
	CS_MSG_ADOPT,			/* dev: uuid text, a: counter, b: base */
	CS_MSG_MERGE,			/* dev: the extent list, checked whole */
};

struct cs_msg {
	enum cs_msg_verb verb;
	u64 a, b;
	const char *dev;		/* points into argv: a device, uuid or list */
};

/* Decimal digits only (no sign, space or newline), no overflow, within
 * [min, max]; -EINVAL otherwise. */
int cs_arg_u64(const char *s, u64 min, u64 max, u64 *v);
/* "major:minor" within the kernel's 12:20 bits: 0; -EINVAL out of range;
 * -ENOENT when s is not of that form (a device path, say). */
int cs_arg_devt(const char *s, u32 *major, u32 *minor);
/* The table's chunk size in sectors for a device of dev_sectors, at most
 * max_chunks chunks; *err is the table error on -EINVAL. */
int cs_arg_chunk(const char *s, u64 dev_sectors, u64 max_chunks, u32 *chunk,
		 char **err);
/* The optional "<#feature args> [<arg>]*" after the chunk size (none is
 * defined yet); *err is the table error on -EINVAL. */
int cs_arg_features(unsigned int argc, char **argv, char **err);
/* One "<start>:<len>" of a merge list at *p, inside [0, nr_chunks) and
 * not empty; moves *p past it and its comma.  -EINVAL otherwise. */
int cs_arg_next_extent(const char **p, u64 nr_chunks, u64 *start, u64 *len);
/* One message, argv[0] the verb (any case): fills m; -EINVAL when the verb
 * is unknown, an argument is missing or extra, or a number is malformed or
 * out of range. */
int cs_arg_message(unsigned int argc, char **argv, const struct cs_arg_limits *lim,
		   struct cs_msg *m);

#endif
