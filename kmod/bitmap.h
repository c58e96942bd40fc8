/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_BITMAP_H
#define CRYPTSNAP_BITMAP_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/types.h>

#include "cryptsnap-dm.h"

/*
 * One bit per chunk, written locklessly by the I/O path.  Every write to
 * the bits is an atomic read-modify-write, so concurrent setters and a
 * merger never lose each other's bits; @weight follows the number of set
 * bits exactly because only the caller that flips a bit 0->1 (or 1->0)
 * accounts for it.
 */
struct cs_bitmap {
	unsigned long *bits;
	unsigned long nbits;
	atomic_long_t weight;
};

/*
 * Most chunks a bitmap (so a device or a snapshot) may have here: the
 * interface's CRYPTSNAP_MAX_CHUNKS (2^32), or on a 32-bit kernel 2^31, so
 * that a chunk count and a chunk number fit an unsigned long and
 * BITS_TO_LONGS() of it does not wrap (2^32 chunks would count as 0).
 * Compare a u64 count against it before storing it in an unsigned long.
 */
#define CS_MAX_CHUNKS \
	min_t(u64, CRYPTSNAP_MAX_CHUNKS, (u64)(ULONG_MAX / 2) + 1)

int cs_bitmap_init(struct cs_bitmap *bm, unsigned long nbits);
void cs_bitmap_destroy(struct cs_bitmap *bm);
void cs_bitmap_set_range(struct cs_bitmap *bm, unsigned long first,
			 unsigned long last);
void cs_bitmap_clear_all(struct cs_bitmap *bm);
void cs_bitmap_merge(struct cs_bitmap *dst, const struct cs_bitmap *src);
unsigned long cs_bitmap_next_extent(const struct cs_bitmap *bm,
				    unsigned long from, unsigned long *len);

static inline unsigned long cs_bitmap_weight(const struct cs_bitmap *bm)
{
	return atomic_long_read(&bm->weight);
}

/* Set one bit; the common case (already set) costs one plain load. */
static inline void cs_bitmap_set(struct cs_bitmap *bm, unsigned long bit)
{
	if (test_bit(bit, bm->bits))
		return;
	if (!test_and_set_bit(bit, bm->bits))
		atomic_long_inc(&bm->weight);
}

/* True if every bit in [first, last] is set. */
static inline bool cs_bitmap_all_set(const struct cs_bitmap *bm,
				     unsigned long first, unsigned long last)
{
	if (first == last)
		return test_bit(first, bm->bits);
	return find_next_zero_bit(bm->bits, last + 1, first) > last;
}

#endif
