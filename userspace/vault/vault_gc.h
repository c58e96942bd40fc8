/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_GC_H
#define CRYPTSNAP_VAULT_GC_H

/*
 * Garbage collection, under an exclusive lock (so no backup is writing):
 * marks every blob reachable from a manifest, writes one new index of the
 * live blobs, removes the old indexes, then deletes packs with no live
 * blob and packs no index mentions (left by crashed writers).  Refuses to
 * run (-EUCLEAN) when any index, manifest or segment is unreadable, since
 * it then cannot tell what is live.
 */
#include <stdint.h>

#include "vault/vault.h"

struct gc_stats {
	uint64_t points, blobs_live, blobs_dead;
	uint64_t packs_kept, packs_deleted, bytes_freed;
};

int vault_gc(struct vault *v, struct gc_stats *st);

#endif
