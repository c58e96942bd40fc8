/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_ORIGIN_H
#define CRYPTSNAP_ORIGIN_H

/*
 * Control of a cryptsnap origin target and its snapshot view through
 * device-mapper messages and status (grammar in include/cryptsnap-dm.h).
 * Negative errno on failure; -EPROTO when the module answers something
 * this tool does not understand.
 */
#include <stdint.h>
#include <sys/types.h>

#include "sys/dmparse.h"


/* Creates "<name>" = cryptsnap over backing (whole device). */
int origin_create(const char *name, const char *backing, uint64_t sectors,
		  uint32_t chunk_sectors);
/* Loads that table into an existing device "<name>" (live: suspend, resume). */
int origin_reload(const char *name, const char *backing, uint64_t sectors,
		  uint32_t chunk_sectors);
/*
 * Replaces the target of "<name>" with a plain linear map of backing: the
 * pass-through that unprotect leaves under a mapping whose volume key it
 * cannot reload (kernel keyring).  Tracking stops; I/O passes unchanged.
 */
int origin_passthrough(const char *name, dev_t backing, uint64_t sectors);
int origin_status(const char *name, struct origin_status *st);
int origin_snap_take(const char *name, const char *cow_dev);
int origin_snap_drop(const char *name);
/* The backup no longer needs the range / anything outside its change set
 * and the first keep_sectors (see cryptsnap-dm.h). */
int origin_release(const char *name, uint64_t start, uint64_t sectors);
int origin_release_unchanged(const char *name, uint64_t keep_sectors);
int origin_commit(const char *name);
int origin_abort(const char *name);

/* Calls fn(start, len) for every extent (in chunks) of the frozen change
 * set, in ascending order; stops at the first non-zero return. */
int origin_changes(const char *name, uint64_t nchunks,
		   int (*fn)(uint64_t start, uint64_t len, void *arg), void *arg);

/*
 * Saving tracking across a reboot: the live map of a suspended origin
 * without a snapshot (same callback as origin_changes), continuing a
 * saved generation on a fresh origin, and replaying saved extents.
 */
int origin_live_changes(const char *name, uint64_t nchunks,
			int (*fn)(uint64_t start, uint64_t len, void *arg), void *arg);
int origin_adopt(const char *name, const char *uuid, uint64_t counter, uint64_t base);
/* ext: n pairs (start, len) in chunks; sent in bounded messages. */
int origin_merge(const char *name, const uint64_t *ext, uint64_t n);
int origin_reset(const char *name);

/* The read-only view "<view>" of origin's current snapshot. */
int origin_view_create(const char *view, dev_t origin, uint64_t sectors);

#endif
