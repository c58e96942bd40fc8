/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_SEG_H
#define CRYPTSNAP_VAULT_SEG_H

/*
 * A point index is a list of segments, each mapping seg_chunks consecutive
 * chunk numbers to chunk ids.  An all-zero id marks an all-zero chunk.
 * Encoded as runs so zero areas cost five bytes:
 *   "CSS1" | nchunks u32 | { kind u8 (0 zero, 1 ids) | count u32 | ids }*
 * Segments are content-addressed blobs, so an unchanged segment is shared
 * by every point that has it.
 */
#include <stddef.h>
#include <stdint.h>

#define SEG_ID_LEN 32

typedef uint8_t seg_id_t[SEG_ID_LEN];

int seg_is_zero_id(const uint8_t *id);
int seg_encode(const seg_id_t *ids, uint32_t n, uint8_t **out, size_t *len);
/* Exactly n chunks or -EUCLEAN. */
int seg_decode(const uint8_t *buf, size_t len, uint32_t n, seg_id_t *ids);
/* Worst-case encoded size of n chunks. */
size_t seg_max_size(uint32_t n);

#endif
