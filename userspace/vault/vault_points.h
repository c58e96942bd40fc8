/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_POINTS_H
#define CRYPTSNAP_VAULT_POINTS_H

/*
 * Recovery points of an unlocked vault: each is a sealed manifest
 * (vault_manifest.h) named points/<id>, plus segments of blob ids.
 */
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

#define MANIFEST_MAX	(64U << 20)

int vault_point_ids(struct vault *v, struct name_list *ids);
int vault_point_load(struct vault *v, struct blob_ctx *c, const char *id,
		     struct manifest *m);
int vault_point_save(struct vault *v, struct blob_ctx *c, const struct manifest *m);
int vault_point_delete(struct vault *v, const char *id);
/*
 * Loads every point's manifest in turn and calls fn on it, saving the
 * manifest when fn returns > 0 (as vault_disk_for_each_key() does).
 * With skip_gone, a point deleted since the listing (-ENOENT) is skipped.
 * Stops at the first error; when that was a load, the point's id goes to
 * failed_id (POINT_ID_MAX bytes, may be NULL).
 */
int vault_point_for_each(struct vault *v, int skip_gone,
			 int (*fn)(struct vault *, struct manifest *, void *),
			 void *arg, char *failed_id);

/* Segment of a point, decoded into ids[seg_chunks]. */
int vault_seg_load(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		   const struct manifest *m, uint64_t s, seg_id_t *ids);

/*
 * Every blob a point needs, for fn: each segment's id (is_seg 1), then the
 * non-zero chunk ids it lists (is_seg 0).  fn returns < 0 to stop the walk
 * with that error, > 0 for a segment to skip its chunks (the segment is
 * lost), otherwise 0; a chunk's > 0 counts as 0.  A segment that cannot be
 * read and authenticated stops it with -EUCLEAN and its number in
 * *bad_seg (when not NULL).
 */
int vault_point_walk(struct vault *v, struct bindex *bi, struct blob_ctx *c,
		     const struct manifest *m,
		     int (*fn)(const uint8_t *id, int is_seg, void *arg), void *arg,
		     uint64_t *bad_seg);

#endif
