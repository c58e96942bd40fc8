// SPDX-License-Identifier: GPL-2.0
/*
 * The life cycle of a snapshot: creation, the state machine, shutdown,
 * references, and the accessors status uses.  What a snapshot is, and
 * which file owns which part of it, is in snap_int.h.
 *
 *  - @state only moves forward, ACTIVE -> INVALID -> DROPPED (INVALID
 *    may be skipped), and only in cs_snap_stop_locked(), under s->lock
 *    and from any context.  Lockless readers use READ_ONCE().
 *  - Creation and the last put are process context and may sleep.
 *    Creation runs while dm-crypt above is suspended, so it allocates
 *    under memalloc_noio.
 *  - Shutdown (the origin lets go) returns only when no copy is in
 *    flight and the worker is gone: afterwards nothing but the views'
 *    references touches the snapshot, and their reads fail.  The last
 *    reference frees the runs and buffers and closes the devices.
 */
#include <linux/dm-io.h>
#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rbtree.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "bitmap.h"
#include "snap.h"
#include "snap_int.h"
#include "exc.h"
#include "pool.h"
#include "copy.h"

/*
 * Stop copying for good.  Every held origin bio goes to the origin, every
 * parked view read fails; runs with a copy in flight leave @pending when
 * the copy ends, the others now.  Turning invalid raises the origin's dm
 * event (a work item, so from any context); once DROPPED the origin may
 * be gone, so the snapshot forgets its event.
 */
void cs_snap_stop_locked(struct cs_snap *s, enum cs_snap_state state,
			 const char *reason)
{
	struct cs_exception *e, *tmp;

	lockdep_assert_held(&s->lock);
	if (s->state == CS_SNAP_ACTIVE && reason) {
		s->reason = reason;
		DMERR_LIMIT("%s: snapshot %llu invalid: %s", s->name,
			    (unsigned long long)s->counter, reason);
		if (s->event)
			schedule_work(s->event);
	}
	if (s->state != CS_SNAP_DROPPED)
		WRITE_ONCE(s->state, state);
	if (state == CS_SNAP_DROPPED)
		s->event = NULL;
	list_for_each_entry_safe(e, tmp, &s->pending, node) {
		bio_list_merge(&s->deferred, &e->waiters);
		bio_list_init(&e->waiters);
		if (e->state == CS_EXC_ON_COW) {
			e->state = CS_EXC_FAILED;
			list_del_init(&e->node);
		}
	}
	bio_list_merge(&s->deferred, &s->nopages);
	bio_list_init(&s->nopages);
	list_splice_tail_init(&s->parked, &s->view_ready);
	cs_copy_kick(s);
}

/* Process context: the snapshot is dropped; views fail from now on. */
void cs_snap_stop(struct cs_snap *s)
{
	spin_lock_irq(&s->lock);
	cs_snap_stop_locked(s, CS_SNAP_DROPPED, NULL);
	spin_unlock_irq(&s->lock);
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
	INIT_WORK(&s->work, cs_copy_work);
	s->io_client = dm_io_client_create();
	if (IS_ERR(s->io_client)) {
		destroy_workqueue(s->wq);
		*error = "Cannot create dm-io client";
		return PTR_ERR(s->io_client);
	}
	return 0;
}

/*
 * Orphaned snapshots (dropped while COW writes hang) are put from this
 * queue.  Each holds a module reference until then, and the module's
 * exit destroys the queue, which waits for the last put_work to return:
 * no module code runs after the module is gone.
 */
static struct workqueue_struct *release_wq;

int cs_snap_module_init(void)
{
	release_wq = alloc_workqueue("cryptsnap-release", 0, 0);
	return release_wq ? 0 : -ENOMEM;
}

void cs_snap_module_exit(void)
{
	destroy_workqueue(release_wq);
}

/* The last copy of an orphaned snapshot ended: put the origin's reference. */
static void snap_put_work(struct work_struct *work)
{
	cs_snap_put(container_of(work, struct cs_snap, put_work));
	module_put(THIS_MODULE);
}

/* Any context; the caller touches the snapshot no more. */
void cs_snap_put_orphan(struct cs_snap *s)
{
	queue_work(release_wq, &s->put_work);
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
	s->event = p->event;
	s->cow_timeout = (unsigned long)p->cow_timeout * HZ;
	cs_snap_set_mem_limit(s, p->mem_limit);
	strscpy(s->name, p->name, sizeof(s->name));
	s->exceptions = RB_ROOT;
	INIT_LIST_HEAD(&s->pending);
	INIT_LIST_HEAD(&s->readers);
	INIT_LIST_HEAD(&s->parked);
	INIT_LIST_HEAD(&s->copied);
	INIT_LIST_HEAD(&s->view_ready);
	bio_list_init(&s->deferred);
	bio_list_init(&s->nopages);
	init_waitqueue_head(&s->copies_wait);
	INIT_LIST_HEAD(&s->cow_writes);
	INIT_DELAYED_WORK(&s->watchdog, cs_copy_watchdog);
	INIT_WORK(&s->put_work, snap_put_work);
}

static struct cs_snap *snap_create(const struct cs_snap_params *p,
				   char **error)
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
	ret = cs_bitmap_init(&s->released, p->nr_chunks);
	if (ret) {
		*error = "Cannot allocate snapshot bitmap";
		goto err_done;
	}
	ret = cs_pool_create(s, error);
	if (ret)
		goto err_bitmap;
	ret = open_devices(s, p, error);
	if (ret)
		goto err_pool;
	ret = create_workers(s, error);
	if (ret)
		goto err_devices;
	return s;

err_devices:
	cs_bdev_close(&s->origin);
	cs_bdev_close(&s->cow);
err_pool:
	cs_pool_destroy(s);
err_bitmap:
	cs_bitmap_destroy(&s->released);
err_done:
	cs_bitmap_destroy(&s->done);
err_free:
	kfree(s);
	return ERR_PTR(ret);
}

/*
 * Process context; may sleep.  On error *error says why.  Runs while the
 * dm-crypt device above is suspended, so no allocation may wait for
 * writeback: that could need the suspended device.
 */
struct cs_snap *cs_snap_create(const struct cs_snap_params *p, char **error)
{
	unsigned int noio = memalloc_noio_save();
	struct cs_snap *s = snap_create(p, error);

	memalloc_noio_restore(noio);
	if (!IS_ERR(s))
		queue_delayed_work(system_wq, &s->watchdog, HZ);
	return s;
}

static bool copies_idle(struct cs_snap *s)
{
	bool idle;

	spin_lock_irq(&s->lock);
	idle = !s->copies;
	spin_unlock_irq(&s->lock);
	return idle;
}

/*
 * The origin lets go of the snapshot and of its reference: no new write
 * reaches it (the caller unpublished it and waited for an RCU grace
 * period).  Release every held bio, wait for copies in flight, but never
 * longer than the COW timeout, and not at all once a COW write is known
 * to hang: a hung COW store must not hang the caller, who holds the
 * origin's ctl_lock.  Copies still in flight then keep the snapshot (its
 * pages, dm-io client, workqueue and devices) alive: the last of them
 * puts the origin's reference.  Views that still hold a reference see
 * DROPPED and fail their reads.
 */
void cs_snap_shutdown(struct cs_snap *s)
{
	bool hung, orphan;

	spin_lock_irq(&s->lock);
	hung = s->cow_hung;
	cs_snap_stop_locked(s, CS_SNAP_DROPPED, NULL);
	spin_unlock_irq(&s->lock);
	/* It does not re-arm once the snapshot is no longer active. */
	cancel_delayed_work_sync(&s->watchdog);

	/*
	 * The count drops under @lock, so once we see zero no completion
	 * touches the snapshot any more.
	 */
	if (!hung)
		wait_event_timeout(s->copies_wait, copies_idle(s),
				   READ_ONCE(s->cow_timeout));
	spin_lock_irq(&s->lock);
	orphan = s->copies;
	s->orphaned = orphan;
	if (orphan)
		__module_get(THIS_MODULE);
	spin_unlock_irq(&s->lock);
	if (orphan) {
		DMWARN("%s: snapshot %llu dropped with COW writes stuck; freed when they end",
		       s->name, (unsigned long long)s->counter);
		return;
	}
	/* Nothing queues work once DROPPED and no copy is left. */
	flush_workqueue(s->wq);
	cs_snap_put(s);
}

/*
 * The memory budget of the runs (copy.c accounts them).  0: 64 MiB or
 * 1/16 of RAM, whichever is smaller.  The COW size bounds it as well:
 * each run takes at least one COW slot.
 */
void cs_snap_set_mem_limit(struct cs_snap *s, u64 bytes)
{
	u64 ram = (u64)totalram_pages() << PAGE_SHIFT;

	if (!bytes)
		bytes = min_t(u64, CRYPTSNAP_MEM_LIMIT_DEFAULT, ram / 16);
	WRITE_ONCE(s->mem_limit, bytes);
}

/* Applies to COW writes already in flight too. */
void cs_snap_set_cow_timeout(struct cs_snap *s, unsigned int seconds)
{
	WRITE_ONCE(s->cow_timeout, (unsigned long)seconds * HZ);
}

static void snap_free(struct kref *kref)
{
	struct cs_snap *s = container_of(kref, struct cs_snap, kref);

	/* No copy is in flight: nothing queues work or uses dm-io any more. */
	destroy_workqueue(s->wq);
	dm_io_client_destroy(s->io_client);
	cs_exc_free_all(s);
	cs_pool_destroy(s);
	cs_bdev_close(&s->origin);
	cs_bdev_close(&s->cow);
	cs_bitmap_destroy(&s->released);
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
