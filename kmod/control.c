// SPDX-License-Identifier: GPL-2.0
/*
 * Messages to the origin target: the snapshot life cycle and the change
 * set hand-over.  The grammar and error codes are in cryptsnap-dm.h.
 * Every message runs under the target's ctl_lock and either succeeds or
 * changes nothing.  Bad input is the caller's problem, not the kernel's:
 * errors are returned, never logged.
 */
#include <linux/blkdev.h>
#include <linux/kernel.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>

#include "args.h"
#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "snap.h"
#include "origin.h"

static struct cs_snap *current_snap(struct cs_origin *o)
{
	return rcu_dereference_protected(o->snap,
					 lockdep_is_held(&o->ctl_lock));
}

/* "major:minor" or a device node path. */
static int parse_dev(const char *arg, dev_t *dev)
{
	u32 major, minor;
	int ret = cs_arg_devt(arg, &major, &minor);

	if (ret == -ENOENT)
		return lookup_bdev(arg, dev) ? -EINVAL : 0;
	if (ret)
		return ret;
	*dev = MKDEV(major, minor);
	return 0;
}

/*
 * The COW granularity: the tracking chunk size unless given.  It is the
 * snapshot's own (copies, COW slots, view splitting); the change set stays
 * in tracking chunks.
 */
static int cow_geometry(struct cs_origin *o, u64 sectors, struct cs_snap_params *p)
{
	if (!sectors)
		sectors = o->chunk_sectors;
	/* The snapshot's bitmaps are allocated while dm-crypt is suspended. */
	if ((u64)DIV_ROUND_UP_SECTOR_T(o->dev_sectors, sectors) > CS_MAX_CHUNKS)
		return -EINVAL;
	p->chunk_shift = ilog2(sectors);
	p->nr_chunks = DIV_ROUND_UP_SECTOR_T(o->dev_sectors, sectors);
	return 0;
}

static int snap_take(struct cs_origin *o, const char *cow_path, u64 cow_chunk)
{
	struct cs_snap_params p = {
		.origin_dev = o->backing_dev,
		.dev_sectors = o->dev_sectors,
		.counter = o->track.counter + 1,
		.name = o->name,
		.event = &o->event_work,
		.cow_timeout = o->cow_timeout,
		.mem_limit = o->mem_limit,
	};
	struct cs_snap *s;
	char *error;
	int ret;

	lockdep_assert_held(&o->ctl_lock);
	if (current_snap(o))
		return -EBUSY;
	if (o->superseded) {
		DMERR("%s: snap_take refused: a table with another size or chunk size is loaded",
		      o->name);
		return -EBUSY;
	}
	ret = cow_geometry(o, cow_chunk, &p);
	if (ret)
		return ret;
	ret = parse_dev(cow_path, &p.cow_dev);
	if (ret)
		return ret;
	/* Copying into ourselves or over the data we copy would recurse. */
	if (p.cow_dev == p.origin_dev || p.cow_dev == o->md_dev)
		return -EINVAL;
	/*
	 * The snapshot moment must not fall inside a write: one in flight
	 * now was marked in the map about to be frozen but may reach the
	 * disk after the snapshot, uncopied.  The caller suspends the
	 * writers above first; checking the count turns a broken contract
	 * into a refusal instead of a silently torn image.
	 */
	if (atomic_read(&o->writes)) {
		DMERR("%s: snap_take refused: %d writes in flight; suspend the device above first",
		      o->name, atomic_read(&o->writes));
		return -EBUSY;
	}
	s = cs_snap_create(&p, &error);
	if (IS_ERR(s))
		return PTR_ERR(s);

	cs_track_freeze(&o->track);
	o->frozen_chunks = cs_bitmap_weight(o->track.frozen);
	o->set_state = CRYPTSNAP_SET_PENDING;
	rcu_assign_pointer(o->snap, s);
	cs_origin_event(o);
	DMINFO("%s: snapshot %llu taken, %lu changed chunks", o->name,
	       (unsigned long long)o->track.counter, o->frozen_chunks);
	return 0;
}

/*
 * Forget the snapshot: an unresolved change set goes back to the live
 * map, then no new write may reach the snapshot (RCU), then held writes
 * and copies drain.  Also used by the destructor.
 */
void cs_origin_detach_snap(struct cs_origin *o)
{
	struct cs_snap *s = current_snap(o);

	lockdep_assert_held(&o->ctl_lock);
	if (!s)
		return;
	if (o->track.frozen)
		cs_track_abort(&o->track);
	/*
	 * Stop it before unpublishing it: from here on view reads fail.
	 * Otherwise, between the pointer going away and shutdown, origin
	 * writes would skip the copy while the still ACTIVE view went on
	 * reading those chunks from the origin: a torn image, reported good.
	 */
	cs_snap_stop(s);
	RCU_INIT_POINTER(o->snap, NULL);
	synchronize_rcu();
	cs_snap_shutdown(s);	/* puts our reference, now or later */
	o->frozen_chunks = 0;
	o->set_state = CRYPTSNAP_SET_NONE;
	cs_origin_event(o);
}

static int snap_drop(struct cs_origin *o)
{
	lockdep_assert_held(&o->ctl_lock);
	if (!current_snap(o))
		return -EBUSY;
	cs_origin_detach_snap(o);
	return 0;
}

static int set_commit(struct cs_origin *o)
{
	struct cs_snap *s = current_snap(o);

	lockdep_assert_held(&o->ctl_lock);
	if (!s || !o->track.frozen)
		return -EBUSY;
	/* Its image could not be read in full: the backup cannot be good. */
	if (!cs_snap_active(s))
		return -EIO;
	cs_track_commit(&o->track);
	o->frozen_chunks = 0;
	o->set_state = CRYPTSNAP_SET_COMMITTED;
	cs_origin_event(o);
	return 0;
}

static int set_abort(struct cs_origin *o)
{
	lockdep_assert_held(&o->ctl_lock);
	if (!current_snap(o) || !o->track.frozen)
		return -EBUSY;
	cs_track_abort(&o->track);
	o->frozen_chunks = 0;
	o->set_state = CRYPTSNAP_SET_ABORTED;
	cs_origin_event(o);
	return 0;
}

/* "release <start sector> <sectors>": the backup is done with the range. */
static int release(struct cs_origin *o, u64 start, u64 nr)
{
	struct cs_snap *s = current_snap(o);

	lockdep_assert_held(&o->ctl_lock);
	if (!s)
		return -EBUSY;
	return cs_snap_release(s, start, nr);
}

/*
 * "release_unchanged <keep sectors>": an incremental backup needs only its
 * change set and the first <keep sectors> (the LUKS header).  Releases
 * every gap between the frozen set's extents after that.  Refused (EBUSY)
 * while any view read is in flight, before anything is released.
 */
static int release_unchanged(struct cs_origin *o, u64 keep)
{
	struct cs_snap *s = current_snap(o);
	unsigned int shift = ilog2(o->chunk_sectors);
	unsigned long c = 0, len;
	sector_t pos, end;
	int ret = 0;

	lockdep_assert_held(&o->ctl_lock);
	if (!s || !o->track.frozen)
		return -EBUSY;
	if (cs_snap_view_busy(s))
		return -EBUSY;
	for (pos = keep; !ret && pos < o->dev_sectors; pos = max(pos, end)) {
		c = cs_bitmap_next_extent(o->track.frozen, c, &len);
		end = len ? min_t(sector_t, (sector_t)c << shift, o->dev_sectors) :
			    o->dev_sectors;
		if (end > pos)
			ret = cs_snap_release(s, pos, end - pos);
		if (!len)
			break;
		c += len;
		end = min_t(sector_t, (sector_t)c << shift, o->dev_sectors);
		cond_resched();
	}
	return ret;
}

/* "cow_timeout <seconds>": now for the current snapshot, and for later ones. */
static int set_cow_timeout(struct cs_origin *o, u64 secs)
{
	struct cs_snap *s = current_snap(o);

	lockdep_assert_held(&o->ctl_lock);
	o->cow_timeout = secs;
	if (s)
		cs_snap_set_cow_timeout(s, secs);
	return 0;
}

/* "mem_limit <bytes>": now for the current snapshot, and for later ones. */
static int set_mem_limit(struct cs_origin *o, u64 bytes)
{
	struct cs_snap *s = current_snap(o);

	lockdep_assert_held(&o->ctl_lock);
	o->mem_limit = bytes;
	if (s)
		cs_snap_set_mem_limit(s, bytes);
	return 0;
}

static int track_reset(struct cs_origin *o)
{
	lockdep_assert_held(&o->ctl_lock);
	if (current_snap(o))
		return -EBUSY;
	cs_track_reset(&o->track);
	return 0;
}

/* Room for "<next> <n> " in front of the extent list. */
#define HDR_ROOM	32U
/* Longest "<start>:<len>," with chunk numbers below 2^32. */
#define EXTENT_ROOM	23U

/*
 * Write one page of the frozen change set starting at chunk @from.  The
 * list is written after HDR_ROOM bytes, then moved up behind the header
 * once the cursor and count are known.  Output never reaches maxlen - 1
 * so dm does not flag the buffer as full.
 */
static int changes_page(struct cs_origin *o, const struct cs_bitmap *bm,
			unsigned long from, unsigned long max_extents,
			char *result, unsigned int maxlen)
{
	unsigned long next = from, n = 0, start, len;
	unsigned int pos = HDR_ROOM, hdr;

	lockdep_assert_held(&o->ctl_lock);
	if (maxlen < HDR_ROOM + EXTENT_ROOM + 2)
		return -ENOSPC;
	while (n < max_extents && pos + EXTENT_ROOM < maxlen - 1) {
		start = cs_bitmap_next_extent(bm, next, &len);
		if (!len) {
			next = o->nr_chunks;
			break;
		}
		pos += scnprintf(result + pos, maxlen - pos, "%s%lu:%lu",
				 n ? "," : "", start, len);
		next = start + len;
		n++;
		cond_resched();
	}
	if (!n)
		result[pos++] = '-';
	result[pos] = '\0';
	hdr = scnprintf(result, HDR_ROOM, "%lu %lu ", next, n);
	memmove(result + hdr, result + HDR_ROOM, pos - HDR_ROOM + 1);
	return 1;	/* dm: @result holds output */
}

static int changes(struct cs_origin *o, u64 from, u64 max, char *result,
		   unsigned int maxlen)
{
	lockdep_assert_held(&o->ctl_lock);
	if (!current_snap(o) || !o->track.frozen)
		return -EBUSY;
	return changes_page(o, o->track.frozen, from, max, result, maxlen);
}

/*
 * The live map, for saving it across a reboot.  Only while the device is
 * suspended and has no snapshot: then no write can add to it and there is
 * no change set, so the pages read are the final and whole picture.
 */
static int live_changes(struct cs_origin *o, u64 from, u64 max, char *result,
			unsigned int maxlen, bool suspended)
{
	lockdep_assert_held(&o->ctl_lock);
	if (!suspended || current_snap(o) || o->track.frozen)
		return -EBUSY;
	return changes_page(o, o->track.live, from, max, result, maxlen);
}

/*
 * "adopt <uuid> <counter> <base>": continue the generation a previous
 * instance of this device saved at shutdown.  Only on a fresh tracker
 * (no snapshot, counter 0, nothing marked), so no change can be lost.
 * args.c checked the numbers (base <= counter).
 */
static int adopt(struct cs_origin *o, const char *id, u64 counter, u64 base)
{
	uuid_t uuid;

	lockdep_assert_held(&o->ctl_lock);
	if (uuid_parse(id, &uuid))
		return -EINVAL;
	if (current_snap(o) || o->track.frozen || o->track.counter ||
	    o->track.base || cs_track_changed(&o->track))
		return -EBUSY;
	cs_track_adopt(&o->track, &uuid, counter, base);
	return 0;
}

/*
 * "merge <start>:<len>[,...]": mark chunks changed, e.g. the saved map
 * replayed after adopt.  Marking more is always safe (the next backup
 * reads more), so it needs only that no snapshot exists.  args.c checked
 * the whole list (count, bounds) before we get here.
 */
static int merge(struct cs_origin *o, const char *list)
{
	const char *p = list;
	u64 start, len;

	lockdep_assert_held(&o->ctl_lock);
	if (current_snap(o) || o->track.frozen)
		return -EBUSY;
	while (*p) {
		if (cs_arg_next_extent(&p, o->nr_chunks, &start, &len))
			return -EINVAL;	/* not reached: checked by args.c */
		cs_track_mark(&o->track, start, start + len - 1);
		cond_resched();
	}
	return 0;
}

/* Arguments are parsed and range-checked (args.c) before any state is looked at. */
static int dispatch(struct cs_origin *o, const struct cs_msg *m, char *result,
		    unsigned int maxlen, bool suspended)
{
	switch (m->verb) {
	case CS_MSG_CHANGES:
		return changes(o, m->a, m->b, result, maxlen);
	case CS_MSG_LIVE_CHANGES:
		return live_changes(o, m->a, m->b, result, maxlen, suspended);
	case CS_MSG_ADOPT:
		return adopt(o, m->dev, m->a, m->b);
	case CS_MSG_MERGE:
		return merge(o, m->dev);
	case CS_MSG_RELEASE:
		return release(o, m->a, m->b);
	case CS_MSG_RELEASE_UNCHANGED:
		return release_unchanged(o, m->a);
	case CS_MSG_COW_TIMEOUT:
		return set_cow_timeout(o, m->a);
	case CS_MSG_MEM_LIMIT:
		return set_mem_limit(o, m->a);
	case CS_MSG_SNAP_TAKE:
		return snap_take(o, m->dev, m->a);
	case CS_MSG_SNAP_DROP:
		return snap_drop(o);
	case CS_MSG_COMMIT:
		return set_commit(o);
	case CS_MSG_ABORT:
		return set_abort(o);
	case CS_MSG_RESET:
		return track_reset(o);
	}
	return -EINVAL;
}

int cs_origin_message(struct cs_origin *o, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen, bool suspended)
{
	struct cs_arg_limits lim = {
		.dev_sectors = o->dev_sectors, .nr_chunks = o->nr_chunks,
	};
	struct cs_msg m;
	int ret;

	ret = cs_arg_message(argc, argv, &lim, &m);
	if (ret)
		return ret;
	mutex_lock(&o->ctl_lock);
	ret = dispatch(o, &m, result, maxlen, suspended);
	mutex_unlock(&o->ctl_lock);
	return ret;
}
