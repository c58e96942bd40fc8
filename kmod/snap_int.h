/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A copy-on-write snapshot of one origin.  Lives for one backup, so its
 * index is in memory only:
 *
 *  - @done: one bit per chunk, set once the chunk's old contents are safe
 *    (in memory on their way to the COW store, or in it) and no view read
 *    of the origin copy is in flight.  The origin write path tests it
 *    without a lock; bits only ever go 0 -> 1 while the snapshot is active.
 *  - @exceptions: rb-tree of runs (first..last chunk -> first COW slot).
 *    A run of neighbouring uncopied chunks written by one bio is copied by
 *    one job into neighbouring slots, so a 1 MiB write costs one copy, not
 *    sixteen.  Slots are handed out linearly.
 *  - @pending: runs not yet released to origin writes; the writes wait on
 *    the run's @waiters list.
 *  - @readers: view reads currently reading uncopied chunks from origin.
 *  - @parked: view reads of runs whose COW write is still in flight.
 *
 * A copy is a read of the old data into pages of the snapshot's own pool,
 * then a write of those pages to the COW store (dm-io, both).  Origin
 * writes to the run are released as soon as the read has finished: the
 * old data no longer depends on the origin, so a first write waits for one
 * read, not for a read and a write.  View reads of the run wait for the
 * COW write instead.
 *
 * Everything but @done's fast-path test is under @lock, an irq-safe
 * spinlock because view reads and copies finish in interrupt context.
 * Runs are only created by @work (one work item, so never concurrently
 * with itself), which may sleep; map() only queues.
 *
 * The snapshot never fails or holds origin I/O for long: on any problem
 * it turns invalid and releases every waiting bio to the origin.
 *
 * One file per part; each states its own locking rules at its top:
 *
 *  - snap.c: the life cycle, @state and @reason, the devices, @wq and
 *    @io_client.
 *  - exc.c: @exceptions, the index of runs (struct cs_exception).
 *  - pool.c: the copy buffers (@pool..@chunk_pages) and @max_run.
 *  - copy.c: the copy engine and the worker: @pending, @deferred,
 *    @nopages, @copied, @copies, @next_slot, and setting @done bits.
 *  - snap_view.c: view reads: @readers, @parked, @view_ready.
 *  - need.c: @released, what the backup no longer needs.
 *
 * This header is private to those files; the rest of the module sees
 * snap.h only.
 */
#ifndef CRYPTSNAP_SNAP_INT_H
#define CRYPTSNAP_SNAP_INT_H

#include <linux/bio.h>
#include <linux/dm-io.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "bitmap.h"
#include "snap.h"

enum cs_snap_state { CS_SNAP_ACTIVE, CS_SNAP_INVALID, CS_SNAP_DROPPED };

struct cs_snap {
	struct kref kref;
	spinlock_t lock;
	enum cs_snap_state state;
	const char *reason;		/* why invalid */
	struct work_struct *event;	/* the origin's; NULL once DROPPED */

	struct cs_bdev origin, cow;
	sector_t dev_sectors;
	unsigned int chunk_shift;
	unsigned long nr_chunks;
	unsigned long cow_chunks;
	unsigned long next_slot;
	u64 mem_used;			/* bytes of runs, under @lock */
	u64 mem_limit;			/* READ_ONCE */
	unsigned long max_run;		/* chunks per job */
	u64 counter;
	char name[32];

	struct cs_bitmap done;
	struct cs_bitmap released;	/* need.c: not needed by the backup */
	struct rb_root exceptions;
	struct list_head pending;
	struct list_head readers;
	struct list_head parked;
	struct bio_list deferred;	/* origin bios for the worker */
	struct bio_list nopages;	/* origin bios waiting for the pool */
	struct list_head copied;	/* copies whose read has finished */
	struct list_head view_ready;	/* parked view reads to resubmit */

	/* Copy buffer pool (pool.c): a free list of pages, under @lock. */
	struct page_list *pool;
	struct page_list *pool_free;
	unsigned int pool_pages, pool_nr_free, chunk_pages;

	unsigned int copies;		/* in flight, under @lock */
	wait_queue_head_t copies_wait;

	/*
	 * A COW store that hangs instead of failing (copy.c): copies whose
	 * COW write is in flight, oldest first, under @lock; the watchdog
	 * invalidates the snapshot when the oldest is older than
	 * @cow_timeout (jiffies, READ_ONCE).
	 */
	struct list_head cow_writes;
	unsigned long cow_timeout;
	struct delayed_work watchdog;
	bool cow_hung;			/* the watchdog fired, under @lock */
	/*
	 * Dropped with copies still in flight: the origin's reference goes
	 * with the last of them (@put_work, process context), so the memory
	 * and devices dm-io may still touch outlive it.  Under @lock.
	 */
	bool orphaned;
	struct work_struct put_work;

	struct workqueue_struct *wq;
	struct work_struct work;
	struct dm_io_client *io_client;
};

static inline sector_t chunk_to_sector(const struct cs_snap *s,
				       unsigned long c)
{
	return (sector_t)c << s->chunk_shift;
}

void cs_snap_stop_locked(struct cs_snap *s, enum cs_snap_state state,
			 const char *reason);
void cs_snap_put_orphan(struct cs_snap *s);

#endif
