/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_ORIGIN_H
#define CRYPTSNAP_ORIGIN_H

#include <linux/device-mapper.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/workqueue.h>

#include "snap.h"
#include "track.h"

/*
 * The tracking and snapshot state of one cryptsnap mapped device.  It
 * belongs to the mapped device, not to a table: a table reload with the
 * same backing device and chunk size shares it (kref), so tracking stays
 * continuous and a snapshot survives the reload.  Found through a
 * registry keyed by the mapped device's dev_t.
 */
struct cs_origin {
	struct kref kref;
	struct list_head node;		/* on the registry */
	dev_t md_dev;			/* the cryptsnap mapped device */
	dev_t backing_dev;
	sector_t dev_sectors;
	sector_t chunk_sectors;
	unsigned int chunk_shift;
	unsigned long nr_chunks;
	char name[32];			/* mapped device name, for log lines */

	/* Serialises messages, status and the snapshot's life cycle. */
	struct mutex ctl_lock;
	struct cs_track track;
	struct cs_snap __rcu *snap;	/* written under ctl_lock */
	unsigned long frozen_chunks;	/* size of the snapshot's change set */
	const char *set_state;		/* CRYPTSNAP_SET_*, under ctl_lock */
	unsigned int cow_timeout;	/* seconds, under ctl_lock */
	u64 mem_limit;			/* bytes, 0: default; under ctl_lock */
	/*
	 * Writes, discards and flushes mapped and not yet ended, from map()
	 * to end_io: snap_take is refused unless it is zero (the writers
	 * above must be suspended).
	 */
	atomic_t writes;
	/*
	 * Tables with another geometry loaded for the same mapped device
	 * (under ctl_lock): their state will replace this one when they are
	 * resumed, so no snapshot may be taken meanwhile.
	 */
	unsigned int superseded;
	/* dm_table_event() on a snapshot state change; see cs_origin_event(). */
	struct work_struct event_work;
	struct mutex tables_lock;
	struct list_head tables;	/* struct cs_origin_table, under it */
};

/* A table of the mapped device using this state (live or being loaded). */
struct cs_origin_table {
	struct list_head node;
	struct dm_table *table;
};

struct cs_origin *cs_origin_get(const struct cs_origin *key, char **error);
void cs_origin_put(struct cs_origin *o);
void cs_origin_add_table(struct cs_origin *o, struct cs_origin_table *t);
void cs_origin_del_table(struct cs_origin *o, struct cs_origin_table *t);
void cs_origin_event(struct cs_origin *o);
struct cs_snap *cs_origin_find_snap(dev_t md_dev, char **error);
void cs_origin_emit_info(struct cs_origin *o, char *result,
			 unsigned int maxlen);

/* control.c */
/* @suspended: the mapped device is suspended (dm_suspended()). */
int cs_origin_message(struct cs_origin *o, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen, bool suspended);
void cs_origin_detach_snap(struct cs_origin *o);

/*
 * The write path: mark [first, last] and give the snapshot, if any, the
 * chance to hold the bio for copy-on-write.  Never sleeps.
 */
static inline int cs_origin_map_write(struct cs_origin *o, struct bio *bio,
				      unsigned long first, unsigned long last)
{
	int ret = DM_MAPIO_REMAPPED;
	struct cs_snap *s;

	atomic_inc(&o->writes);
	cs_track_mark(&o->track, first, last);
	rcu_read_lock();
	s = rcu_dereference(o->snap);
	if (s)
		ret = cs_snap_map_write(s, bio);
	rcu_read_unlock();
	return ret;
}

#endif
