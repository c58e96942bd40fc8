/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_DMPARSE_H
#define CRYPTSNAP_DMPARSE_H

#include <stdint.h>

/* Status of a cryptsnap origin, field order in include/cryptsnap-dm.h. */
struct origin_status {
	uint64_t chunk_sectors, chunks, changed;
	char uuid[40];
	uint64_t counter, base;
	char snap_state[64];		/* none | active | invalid:<reason> */
	uint64_t cow_used, cow_total, frozen;
	char set_state[16];
	uint64_t needed;		/* snapshot chunks the backup still needs */
};

/* -EPROTO unless exactly the documented fields are there. */
int cs_parse_status(const char *params, struct origin_status *st);
/*
 * One answer to "changes <pos>": "<next> <n> <list>".  next must move
 * forward and stay within nchunks; *list points into resp.
 */
int cs_parse_changes_page(const char *resp, uint64_t pos, uint64_t nchunks,
			  uint64_t *next, const char **list);
/*
 * Calls fn(start, len) for each "<start>:<len>" of a comma-separated list
 * ("-" is empty).  Extents must be non-empty, ascending (*last_end carries
 * across pages) and inside the device; anything else is -EPROTO.
 */
int cs_walk_extents(const char *list, uint64_t nchunks, uint64_t *last_end,
		    int (*fn)(uint64_t, uint64_t, void *), void *arg);
/*
 * A dm-crypt table line's parameters with the device replaced by maj:min
 * and, when key is not NULL, the key field replaced by key.  *out is
 * secmem (it may hold a key): secmem_free it.
 */
int crypt_params_rewrite(const char *old, const char *key, unsigned int maj,
			 unsigned int min, char **out);

#endif
