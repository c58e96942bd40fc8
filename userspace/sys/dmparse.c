// SPDX-License-Identifier: GPL-2.0
/*
 * Parsers of what device-mapper hands back: cryptsnap status and change-set
 * pages, and dm-crypt tables.  Pure string work, unit-tested on the host;
 * the kernel's answers are validated, never trusted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cryptsnap-dm.h"
#include "lib/secmem.h"
#include "sys/dmparse.h"

int cs_parse_status(const char *p, struct origin_status *st)
{
	int end = 0;
	int n = sscanf(p, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %39s %" SCNu64
		       " %" SCNu64 " %63s %" SCNu64 " %" SCNu64 " %" SCNu64 " %15s %" SCNu64 " %n",
		       &st->chunk_sectors, &st->chunks, &st->changed, st->uuid,
		       &st->counter, &st->base, st->snap_state, &st->cow_used,
		       &st->cow_total, &st->frozen, st->set_state, &st->needed, &end);

	if (n != CRYPTSNAP_STATUS_NR_FIELDS || !end || p[end] || strchr(p, '-') == p)
		return -EPROTO;
	if (!st->chunk_sectors || st->changed > st->chunks || st->frozen > st->chunks ||
	    st->cow_used > st->cow_total || st->base > st->counter)
		return -EPROTO;
	return 0;
}

int cs_parse_changes_page(const char *resp, uint64_t pos, uint64_t nchunks,
			  uint64_t *next, const char **list)
{
	uint64_t n;
	int used = 0;

	if (sscanf(resp, "%" SCNu64 " %" SCNu64 " %n", next, &n, &used) != 2 || !used ||
	    *next <= pos || *next > nchunks)
		return -EPROTO;
	*list = resp + used;
	return 0;
}

/* "<start>:<len>,<start>:<len>..." or "-" */
int cs_walk_extents(const char *p, uint64_t nchunks, uint64_t *last_end,
		    int (*fn)(uint64_t, uint64_t, void *), void *arg)
{
	uint64_t s, l;
	int used, ret;

	if (!strcmp(p, "-"))
		return 0;
	for (;;) {
		if (sscanf(p, "%" SCNu64 ":%" SCNu64 "%n", &s, &l, &used) != 2)
			return -EPROTO;
		/* Ascending, non-empty and inside the device, or we stop. */
		if (!l || s < *last_end || s > nchunks || l > nchunks - s)
			return -EPROTO;
		*last_end = s + l;
		ret = fn(s, l, arg);
		if (ret)
			return ret;
		p += used;
		if (!*p)
			return 0;
		if (*p++ != ',')
			return -EPROTO;
	}
}

/*
 * The crypt table with the volume key spelled out and the device replaced:
 *   <cipher> <key> <iv offset> <device> <offset> [<#opts> <opt>...]
 * LUKS2 tables name a kernel keyring key that is gone after activation,
 * so the key must come from libcryptsetup.  Built in secmem.
 */
int crypt_params_rewrite(const char *old, const char *key, unsigned int maj,
			 unsigned int min, char **out)
{
	char cipher[128], ivoff[32], offset[32];
	int kstart = 0, kend = 0, used = 0;
	size_t len;
	char *p;

	if (sscanf(old, "%127s %n%*s%n %31s %*s %31s%n", cipher, &kstart, &kend,
		   ivoff, offset, &used) != 3 || !used)
		return -EPROTO;
	len = strlen(old) + (key ? strlen(key) : 0) + 64;
	p = secmem_alloc(len);
	if (!p)
		return -ENOMEM;
	snprintf(p, len, "%s %.*s %s %u:%u %s%s", cipher,
		 key ? (int)strlen(key) : kend - kstart, key ? key : old + kstart,
		 ivoff, maj, min, offset, old + used);
	*out = p;
	return 0;
}

