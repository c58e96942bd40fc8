// SPDX-License-Identifier: GPL-2.0
/*
 * A copy-on-write snapshot of one origin.  Lives for one backup, so its
 * index is in memory only:
 *
 *  - @done: one bit per chunk, set once the chunk's old contents are safe
 *    in the COW store and no view read of the origin copy is in flight.
 *    The origin write path tests it without a lock; bits only ever go
 *    0 -> 1 while the snapshot is active.
 *  - @exceptions: rb-tree of copied runs (first..last chunk -> first COW
 *    slot).  A run of neighbouring uncopied chunks written by one bio is
 *    copied by one kcopyd job into neighbouring slots, so a 1 MiB write
 *    costs one copy, not sixteen.  Slots are handed out linearly.
 *  - @pending: exceptions whose copy is in flight (COPYING) or done but
 *    held back by view reads of the origin (COPIED).  Origin bios wait on
 *    the exception's @waiters list.
 *  - @readers: view reads currently reading uncopied chunks from origin.
 *
 * Everything but @done's fast-path test is under @lock, an irq-safe
 * spinlock because view reads finish in interrupt context.  Exceptions
 * are only created by @work (one work item, so never concurrently with
 * itself), which may sleep; map() only queues.
 *
 * The snapshot never fails or holds origin I/O for long: on any problem
 * it turns invalid and releases every waiting bio to the origin.
 */
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "bitmap.h"
#include "snap.h"

/* Longest run copied by one job: bounds a job's latency and COW claim. */
#define CS_MAX_RUN_CHUNKS	256UL

enum cs_snap_state { CS_SNAP_ACTIVE, CS_SNAP_INVALID, CS_SNAP_DROPPED };
enum cs_exc_state { CS_EXC_COPYING, CS_EXC_COPIED, CS_EXC_DONE,
		    CS_EXC_FAILED };

struct cs_exception {
	struct rb_node rb;
	struct list_head node;		/* on @pending until DONE/FAILED */
	struct cs_snap *snap;
	unsigned long first, last;	/* chunks */
	unsigned long slot;		/* COW slot of @first */
	enum cs_exc_state state;
	struct bio_list waiters;	/* origin bios held for this copy */
};

struct cs_snap {
	struct kref kref;
	spinlock_t lock;
	enum cs_snap_state state;
	const char *reason;		/* why invalid */

	struct cs_bdev origin, cow;
	sector_t dev_sectors;
	unsigned int chunk_shift;
	unsigned long nr_chunks;
	unsigned long cow_chunks;
	unsigned long next_slot;
	u64 counter;
	char name[32];

	struct cs_bitmap done;
	struct rb_root exceptions;
	struct list_head pending;
	struct list_head readers;
	struct bio_list deferred;

	struct workqueue_struct *wq;
	struct work_struct work;
	struct dm_kcopyd_client *kc;
};

static sector_t chunk_to_sector(const struct cs_snap *s, unsigned long c)
{
	return (sector_t)c << s->chunk_shift;
}

/* ---- exception index ------------------------------------------------ */

static int exc_cmp_key(const void *key, const struct rb_node *n)
{
	unsigned long c = *(const unsigned long *)key;
	const struct cs_exception *e = rb_entry(n, struct cs_exception, rb);

	if (c < e->first)
		return -1;
	if (c > e->last)
		return 1;
	return 0;
}

static bool exc_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct cs_exception, rb)->first <
	       rb_entry(b, struct cs_exception, rb)->first;
}

static struct cs_exception *exc_lookup(struct cs_snap *s, unsigned long c)
{
	struct rb_node *n;

	lockdep_assert_held(&s->lock);
	n = rb_find(&c, &s->exceptions, exc_cmp_key);
	return n ? rb_entry(n, struct cs_exception, rb) : NULL;
}

static bool reader_overlaps(struct cs_snap *s, const struct cs_exception *e)
{
	struct cs_view_io *io;

	lockdep_assert_held(&s->lock);
	list_for_each_entry(io, &s->readers, node)
		if (io->chunk >= e->first && io->chunk <= e->last)
			return true;
	return false;
}

/* ---- releasing held origin bios -------------------------------------- */

static void kick(struct cs_snap *s)
{
	lockdep_assert_held(&s->lock);
	if (!bio_list_empty(&s->deferred))
		queue_work(s->wq, &s->work);
}

/*
 * The copy is safe and nobody reads the origin copy: writes may go.  The
 * held bios go to @ready if given (the caller submits them), else back to
 * the worker.
 */
static void exc_complete(struct cs_snap *s, struct cs_exception *e,
			 struct bio_list *ready)
{
	lockdep_assert_held(&s->lock);
	cs_bitmap_set_range(&s->done, e->first, e->last);
	e->state = CS_EXC_DONE;
	list_del_init(&e->node);
	bio_list_merge(ready ? ready : &s->deferred, &e->waiters);
	bio_list_init(&e->waiters);
	kick(s);
}

/* Interrupt context too (view reads end there): no submitting here. */
static void release_blocked(struct cs_snap *s)
{
	struct cs_exception *e, *tmp;

	lockdep_assert_held(&s->lock);
	list_for_each_entry_safe(e, tmp, &s->pending, node)
		if (e->state == CS_EXC_COPIED && !reader_overlaps(s, e))
			exc_complete(s, e, NULL);
}

/*
 * Stop copying for good.  Every held bio goes to the origin; COPIED
 * exceptions leave @pending now, COPYING ones when their copy ends.
 */
static void stop_locked(struct cs_snap *s, enum cs_snap_state state,
			const char *reason)
{
	struct cs_exception *e, *tmp;

	lockdep_assert_held(&s->lock);
	if (s->state == CS_SNAP_ACTIVE && reason) {
		s->reason = reason;
		DMERR_LIMIT("%s: snapshot %llu invalid: %s", s->name,
			    (unsigned long long)s->counter, reason);
	}
	if (s->state != CS_SNAP_DROPPED)
		WRITE_ONCE(s->state, state);
	list_for_each_entry_safe(e, tmp, &s->pending, node) {
		bio_list_merge(&s->deferred, &e->waiters);
		bio_list_init(&e->waiters);
		if (e->state == CS_EXC_COPIED) {
			e->state = CS_EXC_FAILED;
			list_del_init(&e->node);
		}
	}
	kick(s);
}

/* ---- copying ---------------------------------------------------------- */

static void bio_chunks(const struct cs_snap *s, struct bio *bio,
		       unsigned long *first, unsigned long *last)
{
	*first = bio->bi_iter.bi_sector >> s->chunk_shift;
	*last = (bio_end_sector(bio) - 1) >> s->chunk_shift;
}

/*
 * Send bios released by a finished copy straight on, saving the first
 * write a trip through the worker; one that still needs another copy
 * goes back to the worker.  Process context (kcopyd's callback).
 */
static void submit_ready(struct cs_snap *s, struct bio_list *ready)
{
	unsigned long first, last, flags;
	struct bio *bio;

	while ((bio = bio_list_pop(ready))) {
		bio_chunks(s, bio, &first, &last);
		if (cs_bitmap_all_set(&s->done, first, last)) {
			submit_bio_noacct(bio);
			continue;
		}
		spin_lock_irqsave(&s->lock, flags);
		bio_list_add(&s->deferred, bio);
		kick(s);
		spin_unlock_irqrestore(&s->lock, flags);
	}
}

static void copy_done(int read_err, unsigned long write_err, void *context)
{
	struct cs_exception *e = context;
	struct cs_snap *s = e->snap;
	struct bio_list ready;
	unsigned long flags;

	bio_list_init(&ready);
	spin_lock_irqsave(&s->lock, flags);
	if (s->state == CS_SNAP_ACTIVE && (read_err || write_err))
		stop_locked(s, CS_SNAP_INVALID, read_err ?
			    CRYPTSNAP_REASON_ORIGIN_IO : CRYPTSNAP_REASON_COW_IO);
	if (s->state != CS_SNAP_ACTIVE) {
		e->state = CS_EXC_FAILED;
		list_del_init(&e->node);
	} else {
		e->state = CS_EXC_COPIED;
		if (!reader_overlaps(s, e))
			exc_complete(s, e, &ready);
	}
	spin_unlock_irqrestore(&s->lock, flags);
	submit_ready(s, &ready);
}

static void copy_start(struct cs_snap *s, struct cs_exception *e)
{
	sector_t start = chunk_to_sector(s, e->first);
	sector_t end = min(chunk_to_sector(s, e->last + 1), s->dev_sectors);
	struct dm_io_region from = {
		.bdev = s->origin.bdev, .sector = start, .count = end - start,
	};
	struct dm_io_region to = {
		.bdev = s->cow.bdev, .sector = chunk_to_sector(s, e->slot),
		.count = end - start,
	};

	dm_kcopyd_copy(s->kc, &from, 1, &to, 0, copy_done, e);
}

/* Uncopied chunks from @c on that no exception covers yet, up to @last. */
static unsigned long run_end(struct cs_snap *s, unsigned long c,
			     unsigned long last)
{
	unsigned long end = c;

	lockdep_assert_held(&s->lock);
	while (end < last && end - c + 1 < CS_MAX_RUN_CHUNKS &&
	       !test_bit(end + 1, s->done.bits) && !exc_lookup(s, end + 1))
		end++;
	return end;
}

/*
 * Reserve COW slots for the run starting at @c and index it.  Returns the
 * new exception, or NULL when the snapshot stopped (then nothing waits).
 * Called only from @work, so no one else creates an exception meanwhile.
 */
static struct cs_exception *exc_create(struct cs_snap *s, unsigned long c,
				       unsigned long end)
{
	struct cs_exception *e;

	e = kmalloc(sizeof(*e), GFP_NOIO | __GFP_NOWARN);
	spin_lock_irq(&s->lock);
	if (s->state != CS_SNAP_ACTIVE)
		goto out_free;
	if (!e) {
		stop_locked(s, CS_SNAP_INVALID, CRYPTSNAP_REASON_NOMEM);
		goto out_free;
	}
	if (end - c + 1 > s->cow_chunks - s->next_slot) {
		stop_locked(s, CS_SNAP_INVALID, CRYPTSNAP_REASON_COW_FULL);
		goto out_free;
	}
	e->snap = s;
	e->first = c;
	e->last = end;
	e->slot = s->next_slot;
	e->state = CS_EXC_COPYING;
	bio_list_init(&e->waiters);
	WRITE_ONCE(s->next_slot, s->next_slot + end - c + 1);
	rb_add(&e->rb, &s->exceptions, exc_less);
	list_add_tail(&e->node, &s->pending);
	spin_unlock_irq(&s->lock);
	return e;

out_free:
	spin_unlock_irq(&s->lock);
	kfree(e);
	return NULL;
}

/* Start a copy for every uncopied, unclaimed chunk in [c, last]. */
static void start_copies(struct cs_snap *s, unsigned long c,
			 unsigned long last)
{
	struct cs_exception *e;
	unsigned long end;

	while (c <= last) {
		spin_lock_irq(&s->lock);
		if (s->state != CS_SNAP_ACTIVE) {
			spin_unlock_irq(&s->lock);
			return;
		}
		c = find_next_zero_bit(s->done.bits, last + 1, c);
		e = c <= last ? exc_lookup(s, c) : NULL;
		end = c <= last && !e ? run_end(s, c, last) : 0;
		spin_unlock_irq(&s->lock);
		if (c > last)
			return;
		if (e) {
			c = e->last + 1;
			continue;
		}
		e = exc_create(s, c, end);
		if (!e)
			return;
		copy_start(s, e);
		c = end + 1;
	}
}

/*
 * Send a held origin bio on once none of its chunks needs a copy any
 * more, else park it on the first exception it still waits for.
 */
static void handle_write(struct cs_snap *s, struct bio *bio)
{
	struct cs_exception *e = NULL;
	unsigned long first, last, c;

	bio_chunks(s, bio, &first, &last);
	start_copies(s, first, last);

	spin_lock_irq(&s->lock);
	if (s->state == CS_SNAP_ACTIVE) {
		c = find_next_zero_bit(s->done.bits, last + 1, first);
		if (c <= last) {
			e = exc_lookup(s, c);
			if (!e || e->state == CS_EXC_DONE ||
			    e->state == CS_EXC_FAILED)
				/* Cannot happen: start_copies covered it. */
				stop_locked(s, CS_SNAP_INVALID,
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

static void snap_work(struct work_struct *work)
{
	struct cs_snap *s = container_of(work, struct cs_snap, work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&s->lock);
	bios = s->deferred;
	bio_list_init(&s->deferred);
	spin_unlock_irq(&s->lock);

	while ((bio = bio_list_pop(&bios)))
		handle_write(s, bio);
}

/*
 * The origin's map() for a write, discard or write-zeroes, the bio
 * already remapped to the origin.  Never sleeps:
 * either the chunks are copied (lockless test) or the bio is queued.
 */
int cs_snap_map_write(struct cs_snap *s, struct bio *bio)
{
	unsigned long first, last, flags;
	int ret = DM_MAPIO_REMAPPED;

	/* In COW chunks, which may be larger than tracking chunks. */
	bio_chunks(s, bio, &first, &last);
	if (READ_ONCE(s->state) != CS_SNAP_ACTIVE ||
	    cs_bitmap_all_set(&s->done, first, last))
		return DM_MAPIO_REMAPPED;

	spin_lock_irqsave(&s->lock, flags);
	if (s->state == CS_SNAP_ACTIVE) {
		bio_list_add(&s->deferred, bio);
		queue_work(s->wq, &s->work);
		ret = DM_MAPIO_SUBMITTED;
	}
	spin_unlock_irqrestore(&s->lock, flags);
	return ret;
}

/* ---- the view --------------------------------------------------------- */

/*
 * Map a view read of (part of) one chunk.  Copied chunks come from COW.
 * Uncopied ones come from the origin; the read is registered so the
 * first write to the chunk waits until it completes (old data is
 * returned, never a mix).
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
	e = exc_lookup(s, c);
	if (e && (e->state == CS_EXC_DONE || e->state == CS_EXC_COPIED)) {
		bio_set_dev(bio, s->cow.bdev);
		bio->bi_iter.bi_sector = chunk_to_sector(s, e->slot + c - e->first) +
			(sector & ((1UL << s->chunk_shift) - 1));
		goto out;
	}
	io->chunk = c;
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
			release_blocked(s);
	}
	if (s->state != CS_SNAP_ACTIVE && !*error)
		*error = BLK_STS_IOERR;
	spin_unlock_irqrestore(&s->lock, flags);
}

/* ---- life cycle -------------------------------------------------------- */

static int open_devices(struct cs_snap *s, const struct cs_snap_params *p,
			char **error)
{
	int ret;

	/* Exclusive: nothing else may write the COW store meanwhile. */
	ret = cs_bdev_open(&s->cow, p->cow_dev, true, s);
	if (ret) {
		*error = "Cannot open COW device exclusively";
		return ret;
	}
	/* Our own reference, so a view outliving the origin table can read. */
	ret = cs_bdev_open(&s->origin, p->origin_dev, false, NULL);
	if (ret) {
		cs_bdev_close(&s->cow);
		*error = "Cannot open origin device";
		return ret;
	}
	s->cow_chunks = bdev_nr_sectors(s->cow.bdev) >> s->chunk_shift;
	if (!s->cow_chunks) {
		ret = -ENOSPC;
		*error = "COW device smaller than one chunk";
	} else if (bdev_logical_block_size(s->cow.bdev) >
		   bdev_logical_block_size(s->origin.bdev)) {
		/* The view advertises the origin's block size. */
		ret = -EINVAL;
		*error = "COW device has larger logical blocks than the origin";
	}
	if (ret) {
		cs_bdev_close(&s->origin);
		cs_bdev_close(&s->cow);
	}
	return ret;
}

static int create_workers(struct cs_snap *s, char **error)
{
	s->wq = alloc_workqueue("cryptsnap-%s", WQ_MEM_RECLAIM, 1, s->name);
	if (!s->wq) {
		*error = "Cannot allocate workqueue";
		return -ENOMEM;
	}
	INIT_WORK(&s->work, snap_work);
	s->kc = dm_kcopyd_client_create(NULL);
	if (IS_ERR(s->kc)) {
		destroy_workqueue(s->wq);
		*error = "Cannot create kcopyd client";
		return PTR_ERR(s->kc);
	}
	return 0;
}

static void snap_init_fields(struct cs_snap *s, const struct cs_snap_params *p)
{
	kref_init(&s->kref);
	spin_lock_init(&s->lock);
	s->state = CS_SNAP_ACTIVE;
	s->dev_sectors = p->dev_sectors;
	s->chunk_shift = p->chunk_shift;
	s->nr_chunks = p->nr_chunks;
	s->counter = p->counter;
	strscpy(s->name, p->name, sizeof(s->name));
	s->exceptions = RB_ROOT;
	INIT_LIST_HEAD(&s->pending);
	INIT_LIST_HEAD(&s->readers);
	bio_list_init(&s->deferred);
}

/* Process context; may sleep.  On error *error says why. */
struct cs_snap *cs_snap_create(const struct cs_snap_params *p, char **error)
{
	struct cs_snap *s;
	int ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s) {
		*error = "Cannot allocate snapshot";
		return ERR_PTR(-ENOMEM);
	}
	snap_init_fields(s, p);
	ret = cs_bitmap_init(&s->done, p->nr_chunks);
	if (ret) {
		*error = "Cannot allocate snapshot bitmap";
		goto err_free;
	}
	ret = open_devices(s, p, error);
	if (ret)
		goto err_bitmap;
	ret = create_workers(s, error);
	if (ret)
		goto err_devices;
	return s;

err_devices:
	cs_bdev_close(&s->origin);
	cs_bdev_close(&s->cow);
err_bitmap:
	cs_bitmap_destroy(&s->done);
err_free:
	kfree(s);
	return ERR_PTR(ret);
}

/*
 * The origin lets go of the snapshot: no new write reaches it (the caller
 * unpublished it and waited for an RCU grace period).  Release every held
 * bio, wait for copies in flight, and stop the workers.  Views that still
 * hold a reference see DROPPED and fail their reads.
 */
void cs_snap_shutdown(struct cs_snap *s)
{
	spin_lock_irq(&s->lock);
	stop_locked(s, CS_SNAP_DROPPED, NULL);
	spin_unlock_irq(&s->lock);

	flush_workqueue(s->wq);
	/* Waits for every copy; their callbacks see DROPPED. */
	dm_kcopyd_client_destroy(s->kc);
	s->kc = NULL;
	/* Nothing queues work once DROPPED and no copy is left. */
	flush_workqueue(s->wq);
	destroy_workqueue(s->wq);
	s->wq = NULL;
}

static void snap_free(struct kref *kref)
{
	struct cs_snap *s = container_of(kref, struct cs_snap, kref);
	struct cs_exception *e, *tmp;

	rbtree_postorder_for_each_entry_safe(e, tmp, &s->exceptions, rb)
		kfree(e);
	cs_bdev_close(&s->origin);
	cs_bdev_close(&s->cow);
	cs_bitmap_destroy(&s->done);
	kfree(s);
}

void cs_snap_get(struct cs_snap *s)
{
	kref_get(&s->kref);
}

/* Process context: the last put closes block devices. */
void cs_snap_put(struct cs_snap *s)
{
	kref_put(&s->kref, snap_free);
}

/* ---- accessors for status and the view ------------------------------- */

bool cs_snap_active(struct cs_snap *s)
{
	return READ_ONCE(s->state) == CS_SNAP_ACTIVE;
}

u64 cs_snap_counter(const struct cs_snap *s)
{
	return s->counter;
}

sector_t cs_snap_sectors(const struct cs_snap *s)
{
	return s->dev_sectors;
}

unsigned int cs_snap_chunk_shift(const struct cs_snap *s)
{
	return s->chunk_shift;
}

struct block_device *cs_snap_origin_bdev(const struct cs_snap *s)
{
	return s->origin.bdev;
}

void cs_snap_cow_usage(const struct cs_snap *s, unsigned long *used,
		       unsigned long *total)
{
	*used = READ_ONCE(s->next_slot);
	*total = s->cow_chunks;
}

/* Append "active", "invalid:<reason>" or "dropped"; returns new length. */
unsigned int cs_snap_emit_state(struct cs_snap *s, char *result,
				unsigned int maxlen, unsigned int sz)
{
	enum cs_snap_state state;
	const char *reason;
	unsigned long flags;

	spin_lock_irqsave(&s->lock, flags);
	state = s->state;
	reason = s->reason;
	spin_unlock_irqrestore(&s->lock, flags);

	if (state == CS_SNAP_ACTIVE)
		DMEMIT(CRYPTSNAP_SNAP_ACTIVE);
	else if (reason)
		DMEMIT(CRYPTSNAP_SNAP_INVALID ":%s", reason);
	else
		DMEMIT(CRYPTSNAP_VIEW_DROPPED);
	return sz;
}
