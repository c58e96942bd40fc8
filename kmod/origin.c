// SPDX-License-Identifier: GPL-2.0
/*
 * Origin state shared by the tables of one cryptsnap mapped device, and
 * the registry through which tables and views find it.
 */
#include <linux/blkdev.h>
#include <linux/slab.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "origin.h"

static LIST_HEAD(origins);
static DEFINE_MUTEX(origins_lock);

/*
 * Raise a device-mapper event on the mapped device ("dmsetup wait", the
 * event counter of DM_DEV_STATUS), so userspace learns about a snapshot
 * state change without polling.  dm_table_event() takes a mutex, and
 * invalidations happen in interrupt context, hence a work item.  It is
 * raised on every table of ours: only the live one has an event callback
 * (a table being loaded has none yet), and a table leaves the list in
 * its destructor, under @tables_lock, so none is freed under us.
 */
static void origin_event_work(struct work_struct *work)
{
	struct cs_origin *o = container_of(work, struct cs_origin, event_work);
	struct cs_origin_table *t;

	mutex_lock(&o->tables_lock);
	list_for_each_entry(t, &o->tables, node)
		dm_table_event(t->table);
	mutex_unlock(&o->tables_lock);
}

void cs_origin_add_table(struct cs_origin *o, struct cs_origin_table *t)
{
	mutex_lock(&o->tables_lock);
	list_add_tail(&t->node, &o->tables);
	mutex_unlock(&o->tables_lock);
}

void cs_origin_del_table(struct cs_origin *o, struct cs_origin_table *t)
{
	mutex_lock(&o->tables_lock);
	list_del(&t->node);
	mutex_unlock(&o->tables_lock);
}

/* Any context. */
void cs_origin_event(struct cs_origin *o)
{
	schedule_work(&o->event_work);
}

/* Same device, same geometry: a reloaded table may keep the state. */
static bool same_origin(const struct cs_origin *a, const struct cs_origin *b)
{
	return a->md_dev == b->md_dev && a->backing_dev == b->backing_dev &&
	       a->dev_sectors == b->dev_sectors &&
	       a->chunk_sectors == b->chunk_sectors;
}

static struct cs_origin *origin_create(const struct cs_origin *key,
				       char **error)
{
	struct cs_origin *o;

	o = kzalloc(sizeof(*o), GFP_KERNEL);
	if (!o) {
		*error = "Cannot allocate origin";
		return ERR_PTR(-ENOMEM);
	}
	kref_init(&o->kref);
	o->md_dev = key->md_dev;
	INIT_WORK(&o->event_work, origin_event_work);
	mutex_init(&o->tables_lock);
	INIT_LIST_HEAD(&o->tables);
	o->backing_dev = key->backing_dev;
	o->dev_sectors = key->dev_sectors;
	o->chunk_sectors = key->chunk_sectors;
	o->chunk_shift = ilog2(key->chunk_sectors);
	o->nr_chunks = DIV_ROUND_UP_SECTOR_T(key->dev_sectors,
					     key->chunk_sectors);
	strscpy(o->name, key->name, sizeof(o->name));
	mutex_init(&o->ctl_lock);
	o->set_state = CRYPTSNAP_SET_NONE;
	o->cow_timeout = CRYPTSNAP_COW_TIMEOUT_DEFAULT;
	if (cs_track_init(&o->track, o->nr_chunks, &o->ctl_lock)) {
		mutex_destroy(&o->tables_lock);
		mutex_destroy(&o->ctl_lock);
		kfree(o);
		*error = "Cannot allocate change map";
		return ERR_PTR(-ENOMEM);
	}
	return o;
}

/*
 * A table with another geometry (size, chunk size, backing device) for a
 * mapped device that has state already gets state of its own, which
 * replaces the old one when the table is resumed.  Refused while the
 * old state has a snapshot: dm resumes the new table before it destroys
 * the old one, so writes would reach the backing device uncopied while
 * that snapshot still claims to be good.  Otherwise the old state is
 * marked superseded, so no snapshot is taken on it meanwhile; undone by
 * unsupersede() when the new state goes (a load that is cleared, or
 * failed).  Returns NULL or an ERR_PTR.  Under origins_lock.
 */
static struct cs_origin *supersede(const struct cs_origin *key, char **error)
{
	struct cs_origin *o, *busy = NULL;

	lockdep_assert_held(&origins_lock);
	/* Check and mark in one pass under each ctl_lock: no snap_take between. */
	list_for_each_entry(o, &origins, node) {
		if (o->md_dev != key->md_dev)
			continue;
		mutex_lock(&o->ctl_lock);
		if (rcu_access_pointer(o->snap))
			busy = o;
		else
			o->superseded++;
		mutex_unlock(&o->ctl_lock);
		if (busy)
			break;
	}
	if (!busy)
		return NULL;
	list_for_each_entry(o, &origins, node) {
		if (o == busy)
			break;
		if (o->md_dev != key->md_dev)
			continue;
		mutex_lock(&o->ctl_lock);
		o->superseded--;
		mutex_unlock(&o->ctl_lock);
	}
	*error = "Cannot change size, chunk size or backing device while a snapshot exists (snap_drop first)";
	return ERR_PTR(-EBUSY);
}

/* State for @md_dev went away: the others are no longer superseded by it. */
static void unsupersede(dev_t md_dev)
{
	struct cs_origin *o;

	lockdep_assert_held(&origins_lock);
	list_for_each_entry(o, &origins, node) {
		if (o->md_dev != md_dev)
			continue;
		mutex_lock(&o->ctl_lock);
		if (o->superseded)
			o->superseded--;
		mutex_unlock(&o->ctl_lock);
	}
}

/*
 * The state for a new table described by @key: the existing one of the
 * same mapped device if the geometry matches (table reload), else fresh
 * state with a new generation.
 */
struct cs_origin *cs_origin_get(const struct cs_origin *key, char **error)
{
	struct cs_origin *o;

	mutex_lock(&origins_lock);
	list_for_each_entry(o, &origins, node) {
		if (same_origin(o, key)) {
			kref_get(&o->kref);
			goto out;
		}
	}
	o = supersede(key, error);
	if (IS_ERR(o))
		goto out;
	o = origin_create(key, error);
	if (!IS_ERR(o))
		list_add_tail(&o->node, &origins);
	else
		unsupersede(key->md_dev);
out:
	mutex_unlock(&origins_lock);
	return o;
}

/* Called with origins_lock held by kref_put_mutex(); drops it. */
static void origin_release(struct kref *kref)
{
	struct cs_origin *o = container_of(kref, struct cs_origin, kref);

	list_del(&o->node);
	unsupersede(o->md_dev);
	mutex_unlock(&origins_lock);

	mutex_lock(&o->ctl_lock);
	cs_origin_detach_snap(o);
	mutex_unlock(&o->ctl_lock);
	/* The snapshot can no longer queue it (it is DROPPED, not INVALID). */
	cancel_work_sync(&o->event_work);
	cs_track_destroy(&o->track);
	mutex_destroy(&o->tables_lock);
	mutex_destroy(&o->ctl_lock);
	kfree(o);
}

/* The last table of the device is gone: drop its snapshot and state. */
void cs_origin_put(struct cs_origin *o)
{
	kref_put_mutex(&o->kref, origin_release, &origins_lock);
}

/*
 * The active snapshot of the origin whose mapped device is @md_dev, with
 * a reference for the caller.  During a reload with a new geometry two
 * states share a dev_t; only one can have an active snapshot.
 */
struct cs_snap *cs_origin_find_snap(dev_t md_dev, char **error)
{
	struct cs_snap *found = NULL, *s;
	struct cs_origin *o;
	bool origin = false;

	mutex_lock(&origins_lock);
	list_for_each_entry(o, &origins, node) {
		if (o->md_dev != md_dev)
			continue;
		origin = true;
		mutex_lock(&o->ctl_lock);
		s = rcu_dereference_protected(o->snap,
					      lockdep_is_held(&o->ctl_lock));
		if (s && cs_snap_active(s)) {
			cs_snap_get(s);
			found = s;
		}
		mutex_unlock(&o->ctl_lock);
		if (found)
			break;
	}
	mutex_unlock(&origins_lock);
	if (found)
		return found;
	*error = origin ? "Origin has no active snapshot" :
			  "Not a cryptsnap origin device";
	return ERR_PTR(origin ? -ENODEV : -EINVAL);
}

/* STATUSTYPE_INFO; field order in cryptsnap-dm.h. */
void cs_origin_emit_info(struct cs_origin *o, char *result,
			 unsigned int maxlen)
{
	unsigned long used = 0, total = 0, needed = 0;
	unsigned int sz = 0;
	struct cs_snap *s;

	mutex_lock(&o->ctl_lock);
	s = rcu_dereference_protected(o->snap, lockdep_is_held(&o->ctl_lock));
	DMEMIT("%llu %lu %lu %pUb %llu %llu ",
	       (unsigned long long)o->chunk_sectors, o->nr_chunks,
	       cs_track_changed(&o->track), &o->track.uuid,
	       (unsigned long long)o->track.counter,
	       (unsigned long long)o->track.base);
	if (s) {
		sz = cs_snap_emit_state(s, result, maxlen, sz);
		cs_snap_cow_usage(s, &used, &total);
		needed = cs_snap_needed(s);
	} else {
		DMEMIT(CRYPTSNAP_SNAP_NONE);
	}
	DMEMIT(" %lu %lu %lu %s %lu", used, total, o->frozen_chunks, o->set_state,
	       needed);
	mutex_unlock(&o->ctl_lock);
}
