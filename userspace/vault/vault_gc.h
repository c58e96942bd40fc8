/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_GC_H
#define CRYPTSNAP_VAULT_GC_H

/*
 * Garbage collection, under an exclusive lock.  What is live is computed
 * from the points: every segment and chunk a manifest reaches.  GC refuses
 * (-EUCLEAN, nothing deleted, st->why names the object) when an index,
 * manifest or segment cannot be read and authenticated, or when a live
 * blob has no location in any index while some pack is listed by no index
 * (an index object is missing): it could then not tell which packs a kept
 * point needs.  A live blob no index lists while every pack is listed is
 * lost with its pack (counted in blobs_lost; verify names the point).
 *
 * Deleted points (vault_softdel.h) are live until their grace period and
 * retain-until have passed; then their manifests are removed, after the
 * mark and before anything is swept.
 *
 * Otherwise it writes new index objects of the live blobs, removes the old
 * indexes, and deletes packs holding no live blob.  Objects an in-flight
 * writer may still publish a point for are kept even if that writer's lock
 * is gone: index objects last written less than GC_GRACE_SECONDS ago
 * (their blobs count as live and the object stays), packs no index lists
 * that are younger than that, and tmp/ uploads younger than that.
 */
#include <stdint.h>

#include "vault/vault.h"

/* Longer than any backup runs between its first pack and its manifest. */
#define GC_GRACE_SECONDS	(24 * 3600)

struct gc_stats {
	uint64_t points_deleted;	/* soft-deleted, still in their grace */
	uint64_t points_purged;		/* soft-deleted, manifest removed now */
	uint64_t points, blobs_live, blobs_dead, blobs_lost;
	uint64_t packs_kept, packs_young, packs_deleted, bytes_freed;
	char why[192];		/* on refusal: which object and what */
};

int vault_gc(struct vault *v, struct gc_stats *st);
/* The same, "now" given (tests). */
int vault_gc_at(struct vault *v, int64_t now, struct gc_stats *st);
/* The same, deleted points' grace judged at purge_now (prune --now). */
int vault_gc_purge_at(struct vault *v, int64_t now, int64_t purge_now,
		      struct gc_stats *st);

#endif
