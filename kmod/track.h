/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_TRACK_H
#define CRYPTSNAP_TRACK_H

#include <linux/mutex.h>
#include <linux/uuid.h>

#include "bitmap.h"

/*
 * The change tracker of one origin target.  Two bitmaps are allocated at
 * table load and swap roles: @live takes the I/O path's marks, @frozen
 * (NULL when no change set is pending) holds a snapshot's change set.
 * Keeping both for the target's lifetime means the I/O path never races
 * with a free and taking a snapshot never allocates.
 */
struct cs_track {
	struct cs_bitmap maps[2];
	struct cs_bitmap *live;		/* READ_ONCE() in the I/O path */
	struct cs_bitmap *frozen;	/* under *ctl */
	struct mutex *ctl;		/* the owner's control lock */
	uuid_t uuid;
	u64 counter;			/* latest snapshot number */
	u64 base;			/* last committed snapshot number */
};

int cs_track_init(struct cs_track *t, unsigned long nr_chunks,
		  struct mutex *ctl);
void cs_track_destroy(struct cs_track *t);
u64 cs_track_freeze(struct cs_track *t);
void cs_track_commit(struct cs_track *t);
void cs_track_abort(struct cs_track *t);
void cs_track_reset(struct cs_track *t);
void cs_track_adopt(struct cs_track *t, const uuid_t *uuid, u64 counter,
		    u64 base);

/* The I/O path: record a write, discard or write-zeroes to [first, last]. */
static inline void cs_track_mark(struct cs_track *t, unsigned long first,
				 unsigned long last)
{
	cs_bitmap_set_range(READ_ONCE(t->live), first, last);
}

static inline unsigned long cs_track_changed(const struct cs_track *t)
{
	return cs_bitmap_weight(READ_ONCE(t->live));
}

#endif
