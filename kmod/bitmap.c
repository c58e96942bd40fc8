// SPDX-License-Identifier: GPL-2.0
/*
 * Chunk bitmaps: the change maps and a snapshot's "copied" map.  Sized
 * for 2^32 chunks, so the array comes from kvmalloc (vmalloc beyond what
 * the page allocator gives contiguously).
 */
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "bitmap.h"

int cs_bitmap_init(struct cs_bitmap *bm, unsigned long nbits)
{
	/* No allocation-failure splat: a huge device simply fails to load. */
	bm->bits = kvcalloc(BITS_TO_LONGS(nbits), sizeof(unsigned long),
			    GFP_KERNEL | __GFP_NOWARN);
	if (!bm->bits)
		return -ENOMEM;
	bm->nbits = nbits;
	atomic_long_set(&bm->weight, 0);
	return 0;
}

void cs_bitmap_destroy(struct cs_bitmap *bm)
{
	kvfree(bm->bits);
	bm->bits = NULL;
}

/* Atomically OR @mask into one word and account for the new bits. */
static void or_word(struct cs_bitmap *bm, unsigned long idx,
		    unsigned long mask)
{
	unsigned long old;

	if ((READ_ONCE(bm->bits[idx]) & mask) == mask)
		return;
	old = set_mask_bits(&bm->bits[idx], 0UL, mask);
	atomic_long_add(hweight_long(mask & ~old), &bm->weight);
}

/*
 * Set bits [first, last].  Word at a time, so a discard of a whole
 * 16 TiB device costs one pass over the words, not one atomic per chunk.
 */
void cs_bitmap_set_range(struct cs_bitmap *bm, unsigned long first,
			 unsigned long last)
{
	unsigned long w = BIT_WORD(first), lw = BIT_WORD(last);
	unsigned long mask = BITMAP_FIRST_WORD_MASK(first);

	if (first == last) {
		cs_bitmap_set(bm, first);
		return;
	}
	for (; w < lw; w++) {
		or_word(bm, w, mask);
		mask = ~0UL;
	}
	or_word(bm, lw, mask & BITMAP_LAST_WORD_MASK(last + 1));
}

/*
 * Clear everything; bits set concurrently are either kept or accounted.
 * Process context only.
 */
void cs_bitmap_clear_all(struct cs_bitmap *bm)
{
	unsigned long w, n = BITS_TO_LONGS(bm->nbits), old;

	for (w = 0; w < n; w++) {
		if (!(w & 4095))
			cond_resched();
		if (!READ_ONCE(bm->bits[w]))
			continue;
		old = xchg(&bm->bits[w], 0UL);
		atomic_long_sub(hweight_long(old), &bm->weight);
	}
}

/* dst |= src, safe against concurrent setters of @dst.  Process context. */
void cs_bitmap_merge(struct cs_bitmap *dst, const struct cs_bitmap *src)
{
	unsigned long w, n = BITS_TO_LONGS(src->nbits), v;

	for (w = 0; w < n; w++) {
		if (!(w & 4095))
			cond_resched();
		v = READ_ONCE(src->bits[w]);
		if (v)
			or_word(dst, w, v);
	}
}

/*
 * Find the first run of set bits at or after @from.  Returns its start
 * (nbits if none) and its length in @len.
 */
unsigned long cs_bitmap_next_extent(const struct cs_bitmap *bm,
				    unsigned long from, unsigned long *len)
{
	unsigned long start, end;

	start = find_next_bit(bm->bits, bm->nbits, from);
	if (start >= bm->nbits) {
		*len = 0;
		return bm->nbits;
	}
	end = find_next_zero_bit(bm->bits, bm->nbits, start);
	*len = end - start;
	return start;
}
