/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_SNAP_H
#define CRYPTSNAP_SNAP_H

#include <linux/bio.h>
#include <linux/list.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct cs_snap;

/* What a snapshot needs to know about its origin, fixed at snap_take. */
struct cs_snap_params {
	dev_t origin_dev;		/* backing device of the origin */
	dev_t cow_dev;
	sector_t dev_sectors;
	unsigned int chunk_shift;
	unsigned long nr_chunks;
	u64 counter;			/* generation counter of this snapshot */
	unsigned int cow_timeout;	/* seconds a COW write may take */
	u64 mem_limit;			/* bytes of runs, 0: the default */
	const char *name;		/* for log lines */
	/* Queued when the snapshot turns invalid (the origin's dm event). */
	struct work_struct *event;
};

/*
 * Per-bio data of a view read.  A read of a chunk that is not copied yet
 * goes to the origin and stays on the snapshot's reader list until it
 * completes, so the first write to that chunk waits for it.  A read of a
 * chunk whose COW write is in flight is parked until the write ends.
 */
struct cs_view_io {
	struct list_head node;		/* on the reader or parked list */
	struct bio *bio;
	unsigned long chunk;
	bool registered;		/* on the reader list */
};

/*
 * Per-bio data of an origin write the snapshot holds: how far handling it
 * got, so a write that waits many times (a discard of gigabytes waits for
 * buffers once per few runs) is not rescanned from its first chunk each
 * time.  Both only grow.
 */
struct cs_write_io {
	unsigned long claimed;	/* chunks before it are done or have a run */
	unsigned long done;	/* chunks before it are done */
};

struct cs_snap *cs_snap_create(const struct cs_snap_params *p,
			       char **error);
void cs_snap_stop(struct cs_snap *s);
void cs_snap_shutdown(struct cs_snap *s);
void cs_snap_set_cow_timeout(struct cs_snap *s, unsigned int seconds);
void cs_snap_set_mem_limit(struct cs_snap *s, u64 bytes);
void cs_snap_get(struct cs_snap *s);
void cs_snap_put(struct cs_snap *s);

int cs_snap_map_write(struct cs_snap *s, struct bio *bio);

int cs_snap_view_map(struct cs_snap *s, struct bio *bio,
		     struct cs_view_io *io);
void cs_snap_view_end(struct cs_snap *s, struct cs_view_io *io,
		      blk_status_t *error);

/* need.c: what the backup still needs (see there). */
int cs_snap_release(struct cs_snap *s, sector_t start, sector_t nr);
bool cs_snap_released(struct cs_snap *s, unsigned long chunk);
bool cs_snap_view_busy(struct cs_snap *s);
unsigned long cs_snap_needed(const struct cs_snap *s);

bool cs_snap_active(struct cs_snap *s);
u64 cs_snap_counter(const struct cs_snap *s);
sector_t cs_snap_sectors(const struct cs_snap *s);
unsigned int cs_snap_chunk_shift(const struct cs_snap *s);
struct block_device *cs_snap_origin_bdev(const struct cs_snap *s);
unsigned int cs_snap_emit_state(struct cs_snap *s, char *result,
				unsigned int maxlen, unsigned int sz);
void cs_snap_cow_usage(const struct cs_snap *s, unsigned long *used,
		       unsigned long *total);

#endif
