/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_REPAIR_H
#define CRYPTSNAP_VAULT_REPAIR_H

/*
 * Repair of the location index, under an exclusive lock
 * (docs/vault-format.md, "Repair"):
 *   - damaged index objects are replaced, and packs no readable index
 *     lists are re-indexed from their own records (pack format 2), every
 *     blob authenticated before it is listed;
 *   - entries of packs that are gone are dropped, so the next backup stores
 *     those chunks again instead of deduplicating against them;
 *   - new index objects are published before any old one is removed.
 * And the damage a point has: blobs whose pack is missing, or that no
 * index lists.
 */
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

struct repair_report {
	uint64_t packs_scanned, blobs_reindexed, entries_dropped;
	struct name_list damaged_idx;	/* unreadable index objects, replaced */
	struct name_list old_packs;	/* unlisted format-1 packs: cannot re-index */
	struct name_list bad_packs;	/* re-indexed up to a record that failed */
	struct name_list missing_packs;	/* named by an index, gone */
	struct name_list lost;		/* "<point> <disk> <nblobs>" per damaged point */
};

int vault_repair(struct vault *v, struct repair_report *rep);
void repair_report_free(struct repair_report *rep);

struct point_damage {
	uint64_t unlisted;		/* blobs no index lists */
	uint64_t in_missing;		/* blobs whose pack is gone */
	struct name_list packs;		/* those packs, sorted, once each */
};

/* present: bi->npacks flags (vault_index_packs_present).  -EUCLEAN when a
 * segment cannot be read for another reason. */
int vault_point_damage(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		       const struct manifest *m, const uint8_t *present,
		       struct point_damage *d);
void point_damage_free(struct point_damage *d);

#endif
