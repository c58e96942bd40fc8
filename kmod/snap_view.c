// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot's side of a view read (view.c is the dm target): where a
 * read of the snapshot image comes from, and the two lists that keep it
 * from ever returning data written after the snapshot moment.
 *
 *  - @readers: view reads in flight to the origin, of chunks whose old
 *    data is still there.  A run is not released to origin writes while a
 *    reader overlaps it (see cs_snap_view_reader_overlaps()).
 *  - @parked: view reads of runs whose COW write is in flight.  The end
 *    of that write moves them to @view_ready and the worker resubmits
 *    them to COW.
 *  - Both lists, and the choice where a read goes, are under s->lock, the
 *    lock under which a run changes state, so a read never sees a run
 *    half way between two states.
 *  - A read of a chunk the backup released (need.c) is refused: EIO.
 *  - map() and end_io never sleep, and end_io may run in interrupt
 *    context: neither submits a bio.  Only the worker (process context)
 *    does, for parked reads.
 */
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/lockdep.h>
#include <linux/spinlock.h>

#include "cryptsnap.h"
#include "snap_int.h"
#include "exc.h"
#include "copy.h"
#include "snap_view.h"

/* A registered view read is reading a chunk in [first, last]. */
bool cs_snap_view_reading(struct cs_snap *s, unsigned long first,
			  unsigned long last)
{
	struct cs_view_io *io;

	lockdep_assert_held(&s->lock);
	list_for_each_entry(io, &s->readers, node)
		if (io->chunk >= first && io->chunk <= last)
			return true;
	return false;
}

/* Any view read in flight at all (process context). */
bool cs_snap_view_busy(struct cs_snap *s)
{
	bool busy;

	spin_lock_irq(&s->lock);
	busy = !list_empty(&s->readers) || !list_empty(&s->parked) ||
	       !list_empty(&s->view_ready);
	spin_unlock_irq(&s->lock);
	return busy;
}

/* A registered view read is reading part of @e from the origin. */
bool cs_snap_view_reader_overlaps(struct cs_snap *s,
				  const struct cs_exception *e)
{
	return cs_snap_view_reading(s, e->first, e->last);
}

/* View reads parked on @e's COW write may go to COW now (or fail). */
void cs_snap_view_unpark(struct cs_snap *s, const struct cs_exception *e)
{
	struct cs_view_io *io, *tmp;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(io, tmp, &s->parked, node)
		if (io->chunk >= e->first && io->chunk <= e->last)
			list_move_tail(&io->node, &s->view_ready);
	cs_copy_kick(s);
}

static void remap_to_cow(struct cs_snap *s, struct bio *bio,
			 const struct cs_exception *e)
{
	sector_t sector = bio->bi_iter.bi_sector;
	unsigned long c = sector >> s->chunk_shift;

	bio_set_dev(bio, s->cow.bdev);
	bio->bi_iter.bi_sector = chunk_to_sector(s, e->slot + c - e->first) +
		(sector & ((1UL << s->chunk_shift) - 1));
}

/*
 * A parked view read whose run reached COW (or whose snapshot broke).
 * The worker, process context: takes @lock itself.
 */
void cs_snap_view_resubmit(struct cs_snap *s, struct cs_view_io *io)
{
	struct bio *bio = io->bio;
	struct cs_exception *e;

	spin_lock_irq(&s->lock);
	if (s->state != CS_SNAP_ACTIVE) {
		spin_unlock_irq(&s->lock);
		bio_io_error(bio);
		return;
	}
	e = cs_exc_lookup(s, io->chunk);
	if (e && e->state == CS_EXC_ON_COW) {
		remap_to_cow(s, bio, e);
		spin_unlock_irq(&s->lock);
		submit_bio_noacct(bio);
		return;
	}
	/* Not on COW yet (cannot happen): wait for the write again. */
	list_add_tail(&io->node, &s->parked);
	spin_unlock_irq(&s->lock);
}

/*
 * Map a view read of (part of) one chunk.  Chunks in COW come from COW.
 * Uncopied ones, and ones still being read for their copy, come from the
 * origin; the read is registered so the first write to the chunk waits
 * until it completes (old data is returned, never a mix).  A chunk whose
 * old data is on its way from memory to COW waits for that write.
 */
int cs_snap_view_map(struct cs_snap *s, struct bio *bio,
		     struct cs_view_io *io)
{
	sector_t sector = bio->bi_iter.bi_sector;
	sector_t chunk_end = chunk_to_sector(s, (sector >> s->chunk_shift) + 1);
	unsigned long c = sector >> s->chunk_shift, flags;
	struct cs_exception *e;
	int ret = DM_MAPIO_REMAPPED;

	/*
	 * max_io_len already splits at chunk ends; make sure of it anyway,
	 * since a read spanning two chunks would only be guarded for one.
	 */
	if (bio_end_sector(bio) > chunk_end)
		dm_accept_partial_bio(bio, chunk_end - sector);
	io->registered = false;
	spin_lock_irqsave(&s->lock, flags);
	if (s->state != CS_SNAP_ACTIVE) {
		ret = DM_MAPIO_KILL;
		goto out;
	}
	if (cs_snap_released(s, c)) {
		DMERR_LIMIT("%s: view read of chunk %lu refused: the backup released it",
			    s->name, c);
		ret = DM_MAPIO_KILL;
		goto out;
	}
	e = cs_exc_lookup(s, c);
	io->chunk = c;
	io->bio = bio;
	if (e && e->state == CS_EXC_ON_COW) {
		remap_to_cow(s, bio, e);
		goto out;
	}
	if (e && e->state == CS_EXC_WRITING) {
		list_add_tail(&io->node, &s->parked);
		ret = DM_MAPIO_SUBMITTED;
		goto out;
	}
	io->registered = true;
	list_add_tail(&io->node, &s->readers);
	bio_set_dev(bio, s->origin.bdev);
out:
	spin_unlock_irqrestore(&s->lock, flags);
	return ret;
}

/* A view read ended: release writes it held; fail it if the image broke. */
void cs_snap_view_end(struct cs_snap *s, struct cs_view_io *io,
		      blk_status_t *error)
{
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	if (io->registered) {
		list_del(&io->node);
		io->registered = false;
		if (s->state == CS_SNAP_ACTIVE)
			cs_copy_release_blocked(s);
	}
	if (s->state != CS_SNAP_ACTIVE && !*error)
		*error = BLK_STS_IOERR;
	spin_unlock_irqrestore(&s->lock, flags);
}
