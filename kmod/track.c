// SPDX-License-Identifier: GPL-2.0
/*
 * Changed-chunk tracking.  Marks are lockless bit sets; the hand-over at
 * snapshot time is a pointer swap made while the writers above are
 * suspended (the snap_take contract), so a write lands either wholly
 * before the snapshot (frozen set) or wholly after it (live map).
 */
#include <linux/lockdep.h>

#include "track.h"

int cs_track_init(struct cs_track *t, unsigned long nr_chunks,
		  struct mutex *ctl)
{
	int ret;

	ret = cs_bitmap_init(&t->maps[0], nr_chunks);
	if (ret)
		return ret;
	ret = cs_bitmap_init(&t->maps[1], nr_chunks);
	if (ret) {
		cs_bitmap_destroy(&t->maps[0]);
		return ret;
	}
	t->live = &t->maps[0];
	t->frozen = NULL;
	t->ctl = ctl;
	uuid_gen(&t->uuid);
	t->counter = 0;
	t->base = 0;
	return 0;
}

void cs_track_destroy(struct cs_track *t)
{
	cs_bitmap_destroy(&t->maps[1]);
	cs_bitmap_destroy(&t->maps[0]);
}

static struct cs_bitmap *spare_map(struct cs_track *t)
{
	return t->live == &t->maps[0] ? &t->maps[1] : &t->maps[0];
}

/*
 * Freeze the live map as a change set and start an empty one.  The spare
 * map is empty: commit and abort both leave it cleared.  Returns the new
 * generation counter.
 */
u64 cs_track_freeze(struct cs_track *t)
{
	lockdep_assert_held(t->ctl);
	t->frozen = t->live;
	WRITE_ONCE(t->live, spare_map(t));
	return ++t->counter;
}

/* The change set is stored in a recovery point: forget it. */
void cs_track_commit(struct cs_track *t)
{
	lockdep_assert_held(t->ctl);
	cs_bitmap_clear_all(t->frozen);
	t->frozen = NULL;
	t->base = t->counter;
}

/* The backup failed: its changes go back into the live map. */
void cs_track_abort(struct cs_track *t)
{
	lockdep_assert_held(t->ctl);
	cs_bitmap_merge(t->live, t->frozen);
	cs_bitmap_clear_all(t->frozen);
	t->frozen = NULL;
}

/* Forget everything: tracking restarts as if the target were new. */
void cs_track_reset(struct cs_track *t)
{
	lockdep_assert_held(t->ctl);
	cs_bitmap_clear_all(t->live);
	uuid_gen(&t->uuid);
	t->counter = 0;
	t->base = 0;
}

/* Continue a generation saved by an earlier instance (the "adopt" message). */
void cs_track_adopt(struct cs_track *t, const uuid_t *uuid, u64 counter,
		    u64 base)
{
	lockdep_assert_held(t->ctl);
	uuid_copy(&t->uuid, uuid);
	t->counter = counter;
	t->base = base;
}
