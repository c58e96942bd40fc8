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
#include "lib/util.h"
#include "sys/dmparse.h"

/* The next whitespace-separated token of *p (at most len - 1 bytes). */
static int next_tok(const char **p, char *tok, size_t len)
{
	const char *s = *p + strspn(*p, " \t\n");
	size_t n = strcspn(s, " \t\n");

	if (!n || n >= len)
		return -EPROTO;
	memcpy(tok, s, n);
	tok[n] = 0;
	*p = s + n;
	return 0;
}

/* A decimal number, strictly (no sign, no overflow). */
static int next_u64(const char **p, uint64_t *v)
{
	char tok[24];

	if (next_tok(p, tok, sizeof(tok)) || parse_u64(tok, 0, UINT64_MAX, v))
		return -EPROTO;
	return 0;
}

/* Digits up to stop (not consumed); -EPROTO if none or too many. */
static int digits_u64(const char **p, uint64_t *v)
{
	size_t n = strspn(*p, "0123456789");
	char tok[24];

	if (!n || n >= sizeof(tok))
		return -EPROTO;
	memcpy(tok, *p, n);
	tok[n] = 0;
	*p += n;
	return parse_u64(tok, 0, UINT64_MAX, v) ? -EPROTO : 0;
}

int cs_parse_status(const char *p, struct origin_status *st)
{
	int r = next_u64(&p, &st->chunk_sectors);

	if (!r)
		r = next_u64(&p, &st->chunks);
	if (!r)
		r = next_u64(&p, &st->changed);
	if (!r)
		r = next_tok(&p, st->uuid, sizeof(st->uuid));
	if (!r)
		r = next_u64(&p, &st->counter);
	if (!r)
		r = next_u64(&p, &st->base);
	if (!r)
		r = next_tok(&p, st->snap_state, sizeof(st->snap_state));
	if (!r)
		r = next_u64(&p, &st->cow_used);
	if (!r)
		r = next_u64(&p, &st->cow_total);
	if (!r)
		r = next_u64(&p, &st->frozen);
	if (!r)
		r = next_tok(&p, st->set_state, sizeof(st->set_state));
	if (!r)
		r = next_u64(&p, &st->needed);
	if (r || p[strspn(p, " \t\n")])
		return -EPROTO;
	if (!st->chunk_sectors || st->changed > st->chunks || st->frozen > st->chunks ||
	    st->cow_used > st->cow_total || st->base > st->counter)
		return -EPROTO;
	return 0;
}

int cs_parse_changes_page(const char *resp, uint64_t pos, uint64_t nchunks,
			  uint64_t *next, const char **list)
{
	const char *p = resp;
	uint64_t n;

	if (next_u64(&p, next) || next_u64(&p, &n) || *next <= pos || *next > nchunks)
		return -EPROTO;
	*list = p + strspn(p, " \t\n");
	return 0;
}

/* "<start>:<len>,<start>:<len>..." or "-" */
int cs_walk_extents(const char *p, uint64_t nchunks, uint64_t *last_end,
		    int (*fn)(uint64_t, uint64_t, void *), void *arg)
{
	uint64_t s, l;
	int ret;

	if (!strcmp(p, "-"))
		return 0;
	for (;;) {
		if (digits_u64(&p, &s) || *p++ != ':' || digits_u64(&p, &l))
			return -EPROTO;
		/* Ascending, non-empty and inside the device, or we stop. */
		if (!l || s < *last_end || s > nchunks || l > nchunks - s)
			return -EPROTO;
		*last_end = s + l;
		ret = fn(s, l, arg);
		if (ret)
			return ret;
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

