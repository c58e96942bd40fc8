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
	unsigned int major, minor;
	char dummy;

	if (sscanf(arg, "%u:%u%c", &major, &minor, &dummy) == 2) {
		*dev = MKDEV(major, minor);
		if (MAJOR(*dev) != major || MINOR(*dev) != minor)
			return -EINVAL;
		return 0;
	}
	return lookup_bdev(arg, dev) ? -EINVAL : 0;
}

/*
 * Every number in a message: decimal, no sign, no trailing junk, within
 * [min, max] (kstrtoull() rejects overflow).  The caller's type must hold
 * max.
 */
static int parse_u64(const char *arg, u64 min, u64 max, u64 *v)
{
	unsigned long long x;

	if (kstrtoull(arg, 10, &x) || x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/*
 * The COW granularity: the tracking chunk size unless given.  It is the
 * snapshot's own (copies, COW slots, view splitting); the change set stays
 * in tracking chunks.
 */
static int parse_cow_chunk(struct cs_origin *o, const char *arg,
			   struct cs_snap_params *p)
{
	u64 sectors = o->chunk_sectors;

	if (arg && (parse_u64(arg, CRYPTSNAP_CHUNK_SECTORS_MIN,
			      CRYPTSNAP_CHUNK_SECTORS_MAX, &sectors) ||
		    !is_power_of_2(sectors) || sectors > o->dev_sectors))
		return -EINVAL;
	/* The snapshot's bitmaps are allocated while dm-crypt is suspended. */
	if ((u64)DIV_ROUND_UP_SECTOR_T(o->dev_sectors, sectors) > CS_MAX_CHUNKS)
		return -EINVAL;
	p->chunk_shift = ilog2(sectors);
	p->nr_chunks = DIV_ROUND_UP_SECTOR_T(o->dev_sectors, sectors);
	return 0;
}

static int snap_take(struct cs_origin *o, const char *cow_path,
		     const char *cow_chunk)
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
	ret = parse_cow_chunk(o, cow_chunk, &p);
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
static int release(struct cs_origin *o, const char *a_start, const char *a_nr)
{
	struct cs_snap *s = current_snap(o);
	u64 start, nr;

	lockdep_assert_held(&o->ctl_lock);
	if (parse_u64(a_start, 0, o->dev_sectors, &start) ||
	    parse_u64(a_nr, 0, o->dev_sectors, &nr))
		return -EINVAL;
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
static int release_unchanged(struct cs_origin *o, const char *a_keep)
{
	struct cs_snap *s = current_snap(o);
	unsigned int shift = ilog2(o->chunk_sectors);
	unsigned long c = 0, len;
	sector_t pos, end;
	u64 keep;
	int ret = 0;

	lockdep_assert_held(&o->ctl_lock);
	if (parse_u64(a_keep, 0, o->dev_sectors, &keep))
		return -EINVAL;
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
static int set_cow_timeout(struct cs_origin *o, const char *arg)
{
	struct cs_snap *s = current_snap(o);
	u64 secs;

	lockdep_assert_held(&o->ctl_lock);
	if (parse_u64(arg, CRYPTSNAP_COW_TIMEOUT_MIN, CRYPTSNAP_COW_TIMEOUT_MAX,
		      &secs))
		return -EINVAL;
	o->cow_timeout = secs;
	if (s)
		cs_snap_set_cow_timeout(s, secs);
	return 0;
}

/* "mem_limit <bytes>": now for the current snapshot, and for later ones. */
static int set_mem_limit(struct cs_origin *o, const char *arg)
{
	struct cs_snap *s = current_snap(o);
	u64 bytes;

	lockdep_assert_held(&o->ctl_lock);
	/* 0 is the default; else at least the minimum. */
	if (parse_u64(arg, 0, CRYPTSNAP_MEM_LIMIT_MAX, &bytes) ||
	    (bytes && bytes < CRYPTSNAP_MEM_LIMIT_MIN))
		return -EINVAL;
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

/* "<start chunk> [<max extents>]" of changes and live_changes. */
static int parse_page_args(struct cs_origin *o, unsigned int argc,
			   char **argv, u64 *from, u64 *max)
{
	*max = CRYPTSNAP_MSG_MAX_EXTENTS;
	if (argc < 2 || argc > 3)
		return -EINVAL;
	if (parse_u64(argv[1], 0, o->nr_chunks, from))
		return -EINVAL;
	if (argc == 3 &&
	    parse_u64(argv[2], 1, CRYPTSNAP_MSG_MAX_EXTENTS, max))
		return -EINVAL;
	return 0;
}

static int changes(struct cs_origin *o, unsigned int argc, char **argv,
		   char *result, unsigned int maxlen)
{
	u64 from, max;

	lockdep_assert_held(&o->ctl_lock);
	if (parse_page_args(o, argc, argv, &from, &max))
		return -EINVAL;
	if (!current_snap(o) || !o->track.frozen)
		return -EBUSY;
	return changes_page(o, o->track.frozen, from, max, result, maxlen);
}

/*
 * The live map, for saving it across a reboot.  Only while the device is
 * suspended and has no snapshot: then no write can add to it and there is
 * no change set, so the pages read are the final and whole picture.
 */
static int live_changes(struct cs_origin *o, unsigned int argc, char **argv,
			char *result, unsigned int maxlen, bool suspended)
{
	u64 from, max;

	lockdep_assert_held(&o->ctl_lock);
	if (parse_page_args(o, argc, argv, &from, &max))
		return -EINVAL;
	if (!suspended || current_snap(o) || o->track.frozen)
		return -EBUSY;
	return changes_page(o, o->track.live, from, max, result, maxlen);
}

/*
 * "adopt <uuid> <counter> <base>": continue the generation a previous
 * instance of this device saved at shutdown.  Only on a fresh tracker
 * (no snapshot, counter 0, nothing marked), so no change can be lost.
 */
static int adopt(struct cs_origin *o, char **argv)
{
	u64 counter, base;
	uuid_t uuid;

	lockdep_assert_held(&o->ctl_lock);
	if (uuid_parse(argv[1], &uuid) ||
	    parse_u64(argv[2], 0, U64_MAX - 1, &counter) ||
	    parse_u64(argv[3], 0, counter, &base))
		return -EINVAL;
	if (current_snap(o) || o->track.frozen || o->track.counter ||
	    o->track.base || cs_track_changed(&o->track))
		return -EBUSY;
	cs_track_adopt(&o->track, &uuid, counter, base);
	return 0;
}

/*
 * One "<start>:<len>" of a merge list at *p; moves *p past it and its
 * comma.  The extent must lie inside the device and not be empty.
 */
static int next_extent(struct cs_origin *o, const char **p,
		       unsigned long *start, unsigned long *len)
{
	char num[24];
	u64 s, l;
	size_t n;

	n = strcspn(*p, ":");
	if (!n || n >= sizeof(num) || (*p)[n] != ':')
		return -EINVAL;
	memcpy(num, *p, n);
	num[n] = '\0';
	if (parse_u64(num, 0, o->nr_chunks - 1, &s))
		return -EINVAL;
	*p += n + 1;
	n = strcspn(*p, ",");
	if (!n || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, *p, n);
	num[n] = '\0';
	if (parse_u64(num, 1, o->nr_chunks - s, &l))
		return -EINVAL;
	*p += n + ((*p)[n] == ',');
	*start = s;
	*len = l;
	return 0;
}

/*
 * "merge <start>:<len>[,<start>:<len>...]": mark chunks changed, e.g.
 * the saved map replayed after adopt.  Marking more is always safe (the
 * next backup reads more), so it needs only that no snapshot exists.
 * The whole list is checked before anything is marked.
 */
static int merge(struct cs_origin *o, const char *list)
{
	unsigned long start, len, n;
	const char *p;
	int pass;

	lockdep_assert_held(&o->ctl_lock);
	if (current_snap(o) || o->track.frozen)
		return -EBUSY;
	for (pass = 0; pass < 2; pass++) {
		for (p = list, n = 0; *p; n++) {
			if (n == CRYPTSNAP_MSG_MAX_EXTENTS ||
			    next_extent(o, &p, &start, &len))
				return -EINVAL;
			if (pass)
				cs_track_mark(&o->track, start, start + len - 1);
			cond_resched();
		}
		if (!n || p[-1] == ',')
			return -EINVAL;
	}
	return 0;
}

static int dispatch(struct cs_origin *o, unsigned int argc, char **argv,
		    char *result, unsigned int maxlen, bool suspended)
{
	const char *verb = argv[0];

	if (!strcasecmp(verb, CRYPTSNAP_MSG_CHANGES))
		return changes(o, argc, argv, result, maxlen);
	if (!strcasecmp(verb, CRYPTSNAP_MSG_LIVE_CHANGES))
		return live_changes(o, argc, argv, result, maxlen, suspended);
	if (!strcasecmp(verb, CRYPTSNAP_MSG_ADOPT))
		return argc == 4 ? adopt(o, argv) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_MERGE))
		return argc == 2 ? merge(o, argv[1]) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_RELEASE))
		return argc == 3 ? release(o, argv[1], argv[2]) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_COW_TIMEOUT))
		return argc == 2 ? set_cow_timeout(o, argv[1]) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_MEM_LIMIT))
		return argc == 2 ? set_mem_limit(o, argv[1]) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_RELEASE_UNCHANGED))
		return argc == 2 ? release_unchanged(o, argv[1]) : -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_SNAP_TAKE))
		return argc == 2 || argc == 3 ?
			snap_take(o, argv[1], argc == 3 ? argv[2] : NULL) :
			-EINVAL;
	if (argc != 1)
		return -EINVAL;
	if (!strcasecmp(verb, CRYPTSNAP_MSG_SNAP_DROP))
		return snap_drop(o);
	if (!strcasecmp(verb, CRYPTSNAP_MSG_COMMIT))
		return set_commit(o);
	if (!strcasecmp(verb, CRYPTSNAP_MSG_ABORT))
		return set_abort(o);
	if (!strcasecmp(verb, CRYPTSNAP_MSG_RESET))
		return track_reset(o);
	return -EINVAL;
}

int cs_origin_message(struct cs_origin *o, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen, bool suspended)
{
	int ret;

	if (!argc)
		return -EINVAL;
	mutex_lock(&o->ctl_lock);
	ret = dispatch(o, argc, argv, result, maxlen, suspended);
	mutex_unlock(&o->ctl_lock);
	return ret;
}
