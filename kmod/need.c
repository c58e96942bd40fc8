// SPDX-License-Identifier: GPL-2.0
/*
 * What the backup still needs from its snapshot (@released, in snapshot
 * chunks).  A snapshot starts out needing every chunk.  The tool then
 * releases what it does not need: at once, everything outside an
 * incremental backup's change set and the LUKS header; then each range
 * as soon as it has read it.  A released chunk:
 *
 *  - needs no copy: its @done bit is set with it, so origin writes to it
 *    go straight through the lockless test in cs_snap_map_write(), with
 *    no copy and no wait.  Copies already under way finish unneeded.
 *  - can no longer be read through the view: such a read fails with EIO
 *    and a rate-limited line in the kernel log, so a bug in the tool can
 *    never read data written after the snapshot moment as if it were
 *    the snapshot's.
 *
 * Bits only ever go 0 -> 1, with atomic bit operations, so setting them
 * needs no lock.  s->lock makes the check against view reads in flight
 * and the setting one step: a release that overlaps a view read still
 * reading the origin is refused (EBUSY), since the writes it would let
 * through could reach that read.  Process context (messages) only.
 */
#include <linux/device-mapper.h>
#include <linux/lockdep.h>
#include <linux/spinlock.h>

#include "cryptsnap.h"
#include "snap_int.h"
#include "snap_view.h"

/* Whole snapshot chunks inside [start, start + nr); false if none. */
static bool whole_chunks(const struct cs_snap *s, sector_t start, sector_t nr,
			 unsigned long *first, unsigned long *last)
{
	sector_t csz = (sector_t)1 << s->chunk_shift;
	sector_t end = start + nr;
	unsigned long f = (start + csz - 1) >> s->chunk_shift;
	/* The device's last chunk may be short: its end is the device's. */
	unsigned long e = end == s->dev_sectors ? s->nr_chunks :
			  (unsigned long)(end >> s->chunk_shift);

	if (f >= e)
		return false;
	*first = f;
	*last = e - 1;
	return true;
}

int cs_snap_release(struct cs_snap *s, sector_t start, sector_t nr)
{
	unsigned long first, last;
	int ret = 0;

	if (!nr || start >= s->dev_sectors || nr > s->dev_sectors - start)
		return -EINVAL;
	if (!whole_chunks(s, start, nr, &first, &last))
		return 0;
	spin_lock_irq(&s->lock);
	if (s->state != CS_SNAP_ACTIVE)
		ret = -EIO;
	else if (cs_snap_view_reading(s, first, last))
		ret = -EBUSY;
	if (!ret) {
		cs_bitmap_set_range(&s->released, first, last);
		cs_bitmap_set_range(&s->done, first, last);
	}
	spin_unlock_irq(&s->lock);
	return ret;
}

bool cs_snap_released(struct cs_snap *s, unsigned long chunk)
{
	return test_bit(chunk, s->released.bits);
}

unsigned long cs_snap_needed(const struct cs_snap *s)
{
	return s->nr_chunks - cs_bitmap_weight(&s->released);
}
