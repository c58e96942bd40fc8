// SPDX-License-Identifier: GPL-2.0
/*
 * The copy engine of a snapshot: it holds origin writes to chunks whose
 * old data is not safe yet, copies that data (a dm-io read from the
 * origin into pool pages, then a dm-io write of the pages to COW) and
 * releases the writes.
 *
 *  - A run's life: the worker creates it READING and starts the read;
 *    the read's end queues the copy on @copied; the worker makes the run
 *    WRITING, starts the COW write and releases the run unless a view
 *    read still reads its origin copy; the COW write's end makes it
 *    ON_COW and returns the pages.
 *  - A run is released, its @done bits set and its held writes let go,
 *    only once its old data is in memory or on COW and no view read
 *    overlaps it.
 *  - Runs, @pending, @deferred, @nopages, @copied, @copies and
 *    @next_slot are under s->lock, an irq-safe spinlock because dm-io
 *    completions run in interrupt context.  The origin's map() and the
 *    completions never sleep and never submit a bio.  Only the worker
 *    (process context, one work item, never concurrent with itself)
 *    allocates, creates runs and submits.
 *  - @copies drops under s->lock, so once shutdown reads zero no
 *    completion touches the snapshot any more.  A snapshot dropped with
 *    copies in flight (a hung COW store) is orphaned instead: the last
 *    copy to end puts the origin's reference, from a work item.
 *  - A COW write that takes longer than @cow_timeout invalidates the
 *    snapshot (the watchdog, once a second): every write it held goes on
 *    to the origin, so a COW store that hangs instead of failing cannot
 *    stall the VM.  The stuck copies keep their pages until they end.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "snap_int.h"
#include "exc.h"
#include "pool.h"
#include "snap_view.h"
#include "copy.h"

/* One run's copy in flight: its pages, from the read to the COW write. */
struct cs_copy {
	struct list_head node;		/* on @copied between read and write */
	struct cs_snap *snap;
	struct cs_exception *e;
	struct page_list *pages;
	unsigned int nr_pages;
	sector_t sectors;
	unsigned long error;
	struct list_head cow_node;	/* on @cow_writes while it is written */
	unsigned long started;		/* jiffies, when its COW write began */
};

/* Any context: wake the worker if one of its queues has work. */
void cs_copy_kick(struct cs_snap *s)
{
	lockdep_assert_held(&s->lock);
	if (!bio_list_empty(&s->deferred) || !list_empty(&s->copied) ||
	    !list_empty(&s->view_ready))
		queue_work(s->wq, &s->work);
}

/*
 * The old data no longer depends on the origin and nobody reads the
 * origin copy: writes may go.  The held bios go to @ready if given (the
 * caller submits them), else back to the worker.
 */
static void exc_release(struct cs_snap *s, struct cs_exception *e,
			struct bio_list *ready)
{
	lockdep_assert_held(&s->lock);
	cs_bitmap_set_range(&s->done, e->first, e->last);
	list_del_init(&e->node);
	bio_list_merge(ready ? ready : &s->deferred, &e->waiters);
	bio_list_init(&e->waiters);
	cs_copy_kick(s);
}

static bool exc_releasable(struct cs_snap *s, const struct cs_exception *e)
{
	return (e->state == CS_EXC_WRITING || e->state == CS_EXC_ON_COW) &&
	       !cs_snap_view_reader_overlaps(s, e);
}

/* Interrupt context too (view reads end there): no submitting here. */
void cs_copy_release_blocked(struct cs_snap *s)
{
	struct cs_exception *e, *tmp;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(e, tmp, &s->pending, node)
		if (exc_releasable(s, e))
			exc_release(s, e, NULL);
}

static unsigned long bio_last_chunk(const struct cs_snap *s, struct bio *bio)
{
	return (bio_end_sector(bio) - 1) >> s->chunk_shift;
}

/*
 * Send bios released by a finished read straight on; one that still
 * needs another copy goes back to the worker.  Process context.
 */
static void submit_ready(struct cs_snap *s, struct bio_list *ready)
{
	struct cs_write_io *io;
	unsigned long last;
	struct bio *bio;

	while ((bio = bio_list_pop(ready))) {
		io = dm_per_bio_data(bio, sizeof(*io));
		last = bio_last_chunk(s, bio);
		io->done = find_next_zero_bit(s->done.bits, last + 1, io->done);
		if (io->done > last) {
			submit_bio_noacct(bio);
			continue;
		}
		spin_lock_irq(&s->lock);
		bio_list_add(&s->deferred, bio);
		cs_copy_kick(s);
		spin_unlock_irq(&s->lock);
	}
}

/*
 * A copy is over, whatever its outcome: its pages go back to the pool.
 * Returns true when it was the last copy of an orphaned snapshot: the
 * caller puts the origin's reference (cs_snap_put_orphan()) once it no
 * longer touches the snapshot, after dropping the lock.
 */
static bool copy_end_locked(struct cs_snap *s, struct cs_copy *job)
{
	lockdep_assert_held(&s->lock);
	if (s->state != CS_SNAP_ACTIVE) {
		job->e->state = CS_EXC_FAILED;
		list_del_init(&job->e->node);
	}
	cs_pool_give(s, job->pages, job->nr_pages);
	cs_copy_kick(s);
	if (--s->copies)
		return false;
	wake_up(&s->copies_wait);
	return s->orphaned;
}

static void copy_submit(struct cs_snap *s, struct cs_copy *job,
		    struct block_device *bdev, sector_t sector,
		    blk_opf_t opf, io_notify_fn fn)
{
	struct dm_io_region where = {
		.bdev = bdev, .sector = sector, .count = job->sectors,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_PAGE_LIST,
		.mem.ptr.pl = job->pages,
		.notify.fn = fn,
		.notify.context = job,
		.client = s->io_client,
	};

	/*
	 * Not acted on: for one region of a page list, dm_io() fails only in
	 * async_io()'s multi-region read check, which has called fn itself;
	 * calling it again would free the job twice.
	 */
	WARN_ON_ONCE(cs_dm_io_async(&req, &where));
}

/* The COW write ended (interrupt context). */
static void write_done(unsigned long error, void *context)
{
	struct cs_copy *job = context;
	struct cs_snap *s = job->snap;
	unsigned long flags;
	bool orphan;

	spin_lock_irqsave(&s->lock, flags);
	list_del(&job->cow_node);
	if (s->state == CS_SNAP_ACTIVE && error)
		cs_snap_stop_locked(s, CS_SNAP_INVALID,
				    CRYPTSNAP_REASON_COW_IO);
	if (s->state == CS_SNAP_ACTIVE) {
		job->e->state = CS_EXC_ON_COW;
		cs_snap_view_unpark(s, job->e);
	}
	orphan = copy_end_locked(s, job);
	spin_unlock_irqrestore(&s->lock, flags);
	kfree(job);
	if (orphan)
		cs_snap_put_orphan(s);
}

/* The read of the old data ended (interrupt context): on to the worker. */
static void read_done(unsigned long error, void *context)
{
	struct cs_copy *job = context;
	struct cs_snap *s = job->snap;
	unsigned long flags;

	job->error = error;
	spin_lock_irqsave(&s->lock, flags);
	list_add_tail(&job->node, &s->copied);
	cs_copy_kick(s);
	spin_unlock_irqrestore(&s->lock, flags);
}

/*
 * The old data is in memory: write it to COW and let the origin writes
 * that waited for it go, unless a view read still reads the origin copy.
 */
static void copy_write(struct cs_snap *s, struct cs_copy *job)
{
	struct cs_exception *e = job->e;
	struct bio_list ready;
	bool orphan;

	bio_list_init(&ready);
	spin_lock_irq(&s->lock);
	if (s->state == CS_SNAP_ACTIVE && job->error)
		cs_snap_stop_locked(s, CS_SNAP_INVALID,
				    CRYPTSNAP_REASON_ORIGIN_IO);
	if (s->state != CS_SNAP_ACTIVE) {
		orphan = copy_end_locked(s, job);
		spin_unlock_irq(&s->lock);
		kfree(job);
		if (orphan)
			cs_snap_put_orphan(s);
		return;
	}
	e->state = CS_EXC_WRITING;
	job->started = jiffies;
	list_add_tail(&job->cow_node, &s->cow_writes);
	if (exc_releasable(s, e))
		exc_release(s, e, &ready);
	spin_unlock_irq(&s->lock);

	copy_submit(s, job, s->cow.bdev, chunk_to_sector(s, e->slot),
		REQ_OP_WRITE, write_done);
	submit_ready(s, &ready);
}

/*
 * Uncopied chunks from @c on that no run covers yet, up to @last, as many
 * as one job and the free buffers allow.
 */
static unsigned long run_end(struct cs_snap *s, unsigned long c,
			     unsigned long last)
{
	unsigned long max = min_t(unsigned long, s->max_run,
				  s->pool_nr_free / s->chunk_pages);
	unsigned long end = c;

	lockdep_assert_held(&s->lock);
	while (end < last && end - c + 1 < max &&
	       !test_bit(end + 1, s->done.bits) && !cs_exc_lookup(s, end + 1))
		end++;
	return end;
}

/* What one run costs, as the slab allocator rounds it. */
static size_t exc_bytes(void)
{
	return kmalloc_size_roundup(sizeof(struct cs_exception));
}

/*
 * Reserve COW slots and buffers for the run [c, end] and index it.
 * Returns its copy, or NULL when the snapshot stopped (then nothing
 * waits).  Called only from @work, so no one else creates a run
 * meanwhile, and the pool only grew since run_end() measured it.
 */
static struct cs_copy *copy_create(struct cs_snap *s, unsigned long c,
				   unsigned long end)
{
	sector_t start = chunk_to_sector(s, c);
	sector_t sectors = min(chunk_to_sector(s, end + 1), s->dev_sectors) -
			   start;
	struct cs_exception *e;
	struct cs_copy *job;

	e = kmalloc(sizeof(*e), GFP_NOIO | __GFP_NOWARN);
	job = kmalloc(sizeof(*job), GFP_NOIO | __GFP_NOWARN);
	spin_lock_irq(&s->lock);
	if (s->state != CS_SNAP_ACTIVE)
		goto out_free;
	if (!e || !job) {
		cs_snap_stop_locked(s, CS_SNAP_INVALID, CRYPTSNAP_REASON_NOMEM);
		goto out_free;
	}
	if (end - c + 1 > s->cow_chunks - s->next_slot) {
		cs_snap_stop_locked(s, CS_SNAP_INVALID,
				    CRYPTSNAP_REASON_COW_FULL);
		goto out_free;
	}
	/* Jobs are bounded by the pool; runs only by this budget. */
	if (s->mem_used + exc_bytes() > READ_ONCE(s->mem_limit)) {
		cs_snap_stop_locked(s, CS_SNAP_INVALID,
				    CRYPTSNAP_REASON_MEMORY);
		goto out_free;
	}
	s->mem_used += exc_bytes();
	e->first = c;
	e->last = end;
	e->slot = s->next_slot;
	e->state = CS_EXC_READING;
	bio_list_init(&e->waiters);
	job->snap = s;
	job->e = e;
	job->sectors = sectors;
	job->nr_pages = DIV_ROUND_UP(sectors << SECTOR_SHIFT, PAGE_SIZE);
	job->pages = cs_pool_take(s, job->nr_pages);
	job->error = 0;
	s->copies++;
	WRITE_ONCE(s->next_slot, s->next_slot + end - c + 1);
	cs_exc_insert(s, e);
	list_add_tail(&e->node, &s->pending);
	spin_unlock_irq(&s->lock);
	return job;

out_free:
	spin_unlock_irq(&s->lock);
	kfree(job);
	kfree(e);
	return NULL;
}

/*
 * Start a copy for every uncopied, unclaimed chunk of @bio up to @last,
 * from where the last call stopped.  Returns true if @bio was parked
 * until copy buffers are free.
 */
static bool start_copies(struct cs_snap *s, struct bio *bio,
			 struct cs_write_io *io, unsigned long last)
{
	struct cs_exception *e;
	struct cs_copy *job;
	unsigned long end;

	while (io->claimed <= last) {
		spin_lock_irq(&s->lock);
		if (s->state != CS_SNAP_ACTIVE)
			goto out_unlock;
		io->claimed = find_next_zero_bit(s->done.bits, last + 1,
						 io->claimed);
		if (io->claimed > last)
			goto out_unlock;
		e = cs_exc_lookup(s, io->claimed);
		if (e) {
			io->claimed = e->last + 1;
			spin_unlock_irq(&s->lock);
			continue;
		}
		if (s->pool_nr_free < s->chunk_pages) {
			/* cs_pool_give() hands it back to the worker. */
			bio_list_add(&s->nopages, bio);
			spin_unlock_irq(&s->lock);
			return true;
		}
		end = run_end(s, io->claimed, last);
		spin_unlock_irq(&s->lock);

		job = copy_create(s, io->claimed, end);
		if (!job)
			return false;
		copy_submit(s, job, s->origin.bdev,
			    chunk_to_sector(s, io->claimed), REQ_OP_READ,
			    read_done);
		io->claimed = end + 1;
	}
	return false;

out_unlock:
	spin_unlock_irq(&s->lock);
	return false;
}

/*
 * Send a held origin bio on once none of its chunks needs a copy any
 * more, else park it on the first run it still waits for.
 */
static void handle_write(struct cs_snap *s, struct bio *bio)
{
	struct cs_write_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long last = bio_last_chunk(s, bio);
	struct cs_exception *e = NULL;

	if (start_copies(s, bio, io, last))
		return;

	spin_lock_irq(&s->lock);
	if (s->state == CS_SNAP_ACTIVE) {
		io->done = find_next_zero_bit(s->done.bits, last + 1, io->done);
		if (io->done <= last) {
			e = cs_exc_lookup(s, io->done);
			if (!e)
				/* Cannot happen: start_copies covered it. */
				cs_snap_stop_locked(s, CS_SNAP_INVALID,
						    CRYPTSNAP_REASON_NOMEM);
		}
	}
	if (s->state == CS_SNAP_ACTIVE && e) {
		bio_list_add(&e->waiters, bio);
		bio = NULL;
	}
	spin_unlock_irq(&s->lock);
	if (bio)
		submit_bio_noacct(bio);
}

/*
 * Once a second while the snapshot is active (system workqueue, so a
 * worker stuck submitting cannot hold it up): a COW write older than the
 * timeout means the COW store hangs.  Invalidating releases every write
 * held for a copy; the hung copies end whenever the store answers.
 */
void cs_copy_watchdog(struct work_struct *work)
{
	struct cs_snap *s = container_of(to_delayed_work(work), struct cs_snap,
					 watchdog);
	struct cs_copy *oldest;
	bool active;

	spin_lock_irq(&s->lock);
	oldest = list_first_entry_or_null(&s->cow_writes, struct cs_copy,
					  cow_node);
	if (s->state == CS_SNAP_ACTIVE && oldest &&
	    time_after(jiffies, oldest->started + READ_ONCE(s->cow_timeout))) {
		s->cow_hung = true;
		cs_snap_stop_locked(s, CS_SNAP_INVALID,
				    CRYPTSNAP_REASON_COW_TIMEOUT);
	}
	active = s->state == CS_SNAP_ACTIVE;
	spin_unlock_irq(&s->lock);
	if (active)
		queue_delayed_work(system_wq, &s->watchdog, HZ);
}

/*
 * The snapshot's one work item: process context, may sleep.  The only
 * place that creates runs or submits bios for the snapshot.
 */
void cs_copy_work(struct work_struct *work)
{
	struct cs_snap *s = container_of(work, struct cs_snap, work);
	struct cs_copy *job, *jtmp;
	struct cs_view_io *io, *itmp;
	struct list_head copied, views;
	struct blk_plug plug;
	struct bio_list bios;
	struct bio *bio;

	INIT_LIST_HEAD(&copied);
	INIT_LIST_HEAD(&views);
	spin_lock_irq(&s->lock);
	list_splice_init(&s->copied, &copied);
	list_splice_init(&s->view_ready, &views);
	bios = s->deferred;
	bio_list_init(&s->deferred);
	spin_unlock_irq(&s->lock);

	blk_start_plug(&plug);
	/* Finished reads first: they release the writes that wait longest. */
	list_for_each_entry_safe(job, jtmp, &copied, node) {
		list_del(&job->node);
		copy_write(s, job);
	}
	list_for_each_entry_safe(io, itmp, &views, node) {
		list_del(&io->node);
		cs_snap_view_resubmit(s, io);
	}
	while ((bio = bio_list_pop(&bios)))
		handle_write(s, bio);
	blk_finish_plug(&plug);
}

/*
 * The origin's map() for a write, discard or write-zeroes, the bio
 * already remapped to the origin.  Never sleeps:
 * either the chunks are copied (lockless test) or the bio is queued.
 */
int cs_snap_map_write(struct cs_snap *s, struct bio *bio)
{
	struct cs_write_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long first, last, flags;
	int ret = DM_MAPIO_REMAPPED;

	/* In COW chunks, which may be larger than tracking chunks. */
	first = bio->bi_iter.bi_sector >> s->chunk_shift;
	last = bio_last_chunk(s, bio);
	if (READ_ONCE(s->state) != CS_SNAP_ACTIVE ||
	    cs_bitmap_all_set(&s->done, first, last))
		return DM_MAPIO_REMAPPED;

	io->claimed = first;
	io->done = first;
	spin_lock_irqsave(&s->lock, flags);
	if (s->state == CS_SNAP_ACTIVE) {
		bio_list_add(&s->deferred, bio);
		queue_work(s->wq, &s->work);
		ret = DM_MAPIO_SUBMITTED;
	}
	spin_unlock_irqrestore(&s->lock, flags);
	return ret;
}
