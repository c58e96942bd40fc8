// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cryptsnap-dm.h"
#include "sys/dm.h"
#include "sys/dmparse.h"
#include "sys/origin.h"

static int origin_line(struct dm_line *l, char *params, size_t len,
		       const char *backing, uint64_t sectors, uint32_t chunk_sectors)
{
	memset(l, 0, sizeof(*l));
	l->len = sectors;
	l->params = params;
	if ((size_t)snprintf(params, len, "%s %u", backing, chunk_sectors) >= len)
		return -ENAMETOOLONG;
	snprintf(l->type, sizeof(l->type), "%s", CRYPTSNAP_TARGET_NAME);
	return 0;
}

int origin_create(const char *name, const char *backing, uint64_t sectors,
		  uint32_t chunk_sectors)
{
	char params[4200];
	struct dm_line l;
	int r = origin_line(&l, params, sizeof(params), backing, sectors, chunk_sectors);

	return r ? r : csdm_create(name, NULL, &l, 1);
}

int origin_reload(const char *name, const char *backing, uint64_t sectors,
		  uint32_t chunk_sectors)
{
	char params[4200];
	struct dm_line l;
	int r = origin_line(&l, params, sizeof(params), backing, sectors, chunk_sectors);

	return r ? r : csdm_swap_table(name, &l, 1);
}

int origin_passthrough(const char *name, dev_t backing, uint64_t sectors)
{
	char params[64];
	struct dm_line l = { .start = 0, .len = sectors, .params = params };

	snprintf(params, sizeof(params), "%u:%u 0", major(backing), minor(backing));
	snprintf(l.type, sizeof(l.type), "linear");
	return csdm_swap_table(name, &l, 1);
}

int origin_view_create(const char *view, dev_t origin, uint64_t sectors)
{
	char params[64];
	struct dm_line l = { .start = 0, .len = sectors, .params = params };

	snprintf(params, sizeof(params), "%u:%u", major(origin), minor(origin));
	snprintf(l.type, sizeof(l.type), "%s", CRYPTSNAP_VIEW_TARGET_NAME);
	return csdm_create(view, NULL, &l, 1);
}

int origin_status(const char *name, struct origin_status *st)
{
	struct dm_line *lines;
	unsigned int n;
	int ret;

	ret = csdm_status(name, &lines, &n);
	if (ret)
		return ret;
	if (n != 1 || strcmp(lines[0].type, CRYPTSNAP_TARGET_NAME))
		ret = -EPROTO;
	else
		ret = cs_parse_status(lines[0].params, st);
	csdm_lines_free(lines, n);
	return ret;
}

int origin_snap_take(const char *name, const char *cow_dev)
{
	char msg[4200];

	if ((size_t)snprintf(msg, sizeof(msg), "%s %s", CRYPTSNAP_MSG_SNAP_TAKE,
			     cow_dev) >= sizeof(msg))
		return -ENAMETOOLONG;
	return csdm_message(name, msg, NULL);
}

int origin_release(const char *name, uint64_t start, uint64_t sectors)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s %" PRIu64 " %" PRIu64, CRYPTSNAP_MSG_RELEASE,
		 start, sectors);
	return csdm_message(name, msg, NULL);
}

int origin_release_unchanged(const char *name, uint64_t keep_sectors)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s %" PRIu64, CRYPTSNAP_MSG_RELEASE_UNCHANGED,
		 keep_sectors);
	return csdm_message(name, msg, NULL);
}

int origin_snap_drop(const char *name)
{
	return csdm_message(name, CRYPTSNAP_MSG_SNAP_DROP, NULL);
}

int origin_commit(const char *name)
{
	return csdm_message(name, CRYPTSNAP_MSG_COMMIT, NULL);
}

int origin_abort(const char *name)
{
	return csdm_message(name, CRYPTSNAP_MSG_ABORT, NULL);
}

static int walk_pages(const char *name, const char *verb, uint64_t nchunks,
		      int (*fn)(uint64_t start, uint64_t len, void *arg), void *arg)
{
	uint64_t pos = 0, next = 0, last_end = 0;
	const char *list = NULL;
	char msg[64], *resp;
	int ret = 0;

	while (!ret && pos < nchunks) {
		snprintf(msg, sizeof(msg), "%s %" PRIu64, verb, pos);
		ret = csdm_message(name, msg, &resp);
		if (ret)
			break;
		ret = resp ? cs_parse_changes_page(resp, pos, nchunks, &next, &list) : -EPROTO;
		if (!ret)
			ret = cs_walk_extents(list, nchunks, &last_end, fn, arg);
		free(resp);
		pos = next;
	}
	return ret;
}

int origin_changes(const char *name, uint64_t nchunks,
		   int (*fn)(uint64_t start, uint64_t len, void *arg), void *arg)
{
	return walk_pages(name, CRYPTSNAP_MSG_CHANGES, nchunks, fn, arg);
}

int origin_live_changes(const char *name, uint64_t nchunks,
			int (*fn)(uint64_t start, uint64_t len, void *arg), void *arg)
{
	return walk_pages(name, CRYPTSNAP_MSG_LIVE_CHANGES, nchunks, fn, arg);
}

int origin_adopt(const char *name, const char *uuid, uint64_t counter, uint64_t base)
{
	char msg[128];

	if ((size_t)snprintf(msg, sizeof(msg), "%s %s %" PRIu64 " %" PRIu64,
			     CRYPTSNAP_MSG_ADOPT, uuid, counter, base) >= sizeof(msg))
		return -EINVAL;
	return csdm_message(name, msg, NULL);
}

/* Extents per merge message: well under the kernel's limit, ~10 KiB. */
#define MERGE_BATCH	256U
/* "<start>:<len>," with 20-digit numbers. */
#define MERGE_ROOM	(2 * 20 + 2)

int origin_merge(const char *name, const uint64_t *ext, uint64_t n)
{
	char msg[sizeof(CRYPTSNAP_MSG_MERGE) + 1 + MERGE_BATCH * MERGE_ROOM];
	uint64_t i = 0, k;
	size_t pos;
	int r = 0;

	while (!r && i < n) {
		pos = (size_t)snprintf(msg, sizeof(msg), "%s ", CRYPTSNAP_MSG_MERGE);
		for (k = 0; k < MERGE_BATCH && i < n; k++, i++)
			pos += (size_t)snprintf(msg + pos, sizeof(msg) - pos, "%s%" PRIu64 ":%" PRIu64,
						k ? "," : "", ext[2 * i], ext[2 * i + 1]);
		r = csdm_message(name, msg, NULL);
	}
	return r;
}

int origin_reset(const char *name)
{
	return csdm_message(name, CRYPTSNAP_MSG_RESET, NULL);
}
