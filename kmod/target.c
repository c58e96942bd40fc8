// SPDX-License-Identifier: GPL-2.0
/*
 * The "cryptsnap" origin target: maps its backing device 1:1 so it can
 * sit underneath a live dm-crypt mapping without changing the crypt
 * table's offsets, marks every chunk a write, discard or write-zeroes
 * touches, and hands writes to the snapshot (if any) for copy-on-write.
 *
 * The state (change maps, snapshot) lives in a struct cs_origin owned by
 * the mapped device, so it survives table reloads; this file is the
 * per-table glue.
 */
#include <linux/module.h>
#include <linux/blkdev.h>
#include <linux/bio.h>
#include <linux/slab.h>

#include "args.h"
#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "origin.h"

/* One table's instance of the cryptsnap target. */
struct cs_target {
	struct dm_dev *dev;		/* backing device */
	sector_t dev_sectors;
	sector_t chunk_sectors;
	unsigned int chunk_shift;
	unsigned long nr_chunks;
	struct cs_origin *origin;
	struct cs_origin_table link;	/* on the origin's table list */
};

static int parse_chunk_size(struct dm_target *ti, const char *arg,
			    struct cs_target *cs)
{
	sector_t dev_sectors = bdev_nr_sectors(cs->dev->bdev);
	u32 chunk;
	int ret;

	ret = cs_arg_chunk(arg, dev_sectors, CS_MAX_CHUNKS, &chunk, &ti->error);
	if (ret)
		return ret;
	cs->dev_sectors = dev_sectors;
	cs->chunk_sectors = chunk;
	cs->chunk_shift = ilog2(chunk);
	cs->nr_chunks = DIV_ROUND_UP_SECTOR_T(dev_sectors, chunk);
	return 0;
}

static int attach_origin(struct dm_target *ti, struct cs_target *cs)
{
	struct cs_origin key = {
		.md_dev = disk_devt(dm_disk(dm_table_get_md(ti->table))),
		.backing_dev = cs->dev->bdev->bd_dev,
		.dev_sectors = cs->dev_sectors,
		.chunk_sectors = cs->chunk_sectors,
	};

	strscpy(key.name, dm_table_device_name(ti->table), sizeof(key.name));
	cs->origin = cs_origin_get(&key, &ti->error);
	if (IS_ERR(cs->origin))
		return PTR_ERR(cs->origin);
	cs->link.table = ti->table;
	cs_origin_add_table(cs->origin, &cs->link);
	return 0;
}

/*
 * Construct a cryptsnap mapping:
 *   <backing dev> <chunk size in sectors> [<#feature args> [<arg>]*]
 *
 * The target must cover exactly the whole backing device starting at
 * offset 0, so that the LUKS header and the crypt table's data offset are
 * unchanged when the target is stacked underneath.
 */
static int cs_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct cs_target *cs;
	int ret;

	if (argc < 2) {
		ti->error = "Expected <backing dev> <chunk sectors> [features]";
		return -EINVAL;
	}
	cs = kzalloc(sizeof(*cs), GFP_KERNEL);
	if (!cs) {
		ti->error = "Cannot allocate target context";
		return -ENOMEM;
	}
	ret = dm_get_device(ti, dm_shift_arg(&as), dm_table_get_mode(ti->table),
			    &cs->dev);
	if (ret) {
		ti->error = "Backing device lookup failed";
		goto err_free;
	}
	ret = parse_chunk_size(ti, dm_shift_arg(&as), cs);
	if (ret)
		goto err_put;
	ret = cs_arg_features(as.argc, as.argv, &ti->error);
	if (ret)
		goto err_put;
	if (ti->begin || ti->len != bdev_nr_sectors(cs->dev->bdev)) {
		ti->error = "Target must map the whole backing device from sector 0";
		ret = -EINVAL;
		goto err_put;
	}
	ret = attach_origin(ti, cs);
	if (ret)
		goto err_put;

	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct cs_write_io);
	ti->private = cs;
	return 0;

err_put:
	dm_put_device(ti, cs->dev);
err_free:
	kfree(cs);
	return ret;
}

/* The origin state, and its snapshot, go with the device's last table. */
static void cs_dtr(struct dm_target *ti)
{
	struct cs_target *cs = ti->private;

	cs_origin_del_table(cs->origin, &cs->link);
	cs_origin_put(cs->origin);
	dm_put_device(ti, cs->dev);
	kfree(cs);
}

/* Writes, discards, write-zeroes; not empty flushes. */
static bool bio_changes_data(struct bio *bio)
{
	return op_is_write(bio_op(bio)) && bio_sectors(bio);
}

/*
 * Every write-type bio is counted in flight from map() to here (the
 * snap_take quiescence check); its op does not change on the way, and
 * its size does, so the test is on the op alone.
 */
static int cs_end_io(struct dm_target *ti, struct bio *bio,
		     blk_status_t *error)
{
	struct cs_target *cs = ti->private;

	if (op_is_write(bio_op(bio)))
		atomic_dec(&cs->origin->writes);
	return DM_ENDIO_DONE;
}

/*
 * The hot path.  Tracking is a lockless bit test (and set on the first
 * touch of a chunk); with a snapshot, writes to chunks already copied
 * cost one more bit test.  Only first writes to a chunk are deferred.
 */
static int cs_map(struct dm_target *ti, struct bio *bio)
{
	struct cs_target *cs = ti->private;
	unsigned long first, last;

	bio_set_dev(bio, cs->dev->bdev);
	if (!bio_changes_data(bio)) {
		if (op_is_write(bio_op(bio)))	/* an empty flush */
			atomic_inc(&cs->origin->writes);
		return DM_MAPIO_REMAPPED;
	}
	first = bio->bi_iter.bi_sector >> cs->chunk_shift;
	last = (bio_end_sector(bio) - 1) >> cs->chunk_shift;
	return cs_origin_map_write(cs->origin, bio, first, last);
}

static int cs_message(struct dm_target *ti, unsigned int argc, char **argv,
		      char *result, unsigned int maxlen)
{
	struct cs_target *cs = ti->private;

	return cs_origin_message(cs->origin, argc, argv, result, maxlen,
				 dm_suspended(ti));
}

static void cs_status(struct dm_target *ti, status_type_t type,
		      unsigned int status_flags, char *result,
		      unsigned int maxlen)
{
	struct cs_target *cs = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		cs_origin_emit_info(cs->origin, result, maxlen);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %llu", cs->dev->name,
		       (unsigned long long)cs->chunk_sectors);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",backing_dev=%s,chunk_sectors=%llu;", cs->dev->name,
		       (unsigned long long)cs->chunk_sectors);
		break;
	}
}

static int cs_iterate_devices(struct dm_target *ti,
			      iterate_devices_callout_fn fn, void *data)
{
	struct cs_target *cs = ti->private;

	return fn(ti, cs->dev, 0, ti->len, data);
}

/*
 * dm already stacked the backing device's limits through
 * iterate_devices.  We only make sure none of them is narrowed: a 1:1
 * remap accepts any bio the backing queue accepts, so the logical and
 * physical block sizes of the backing device are passed up as they are.
 */
static void cs_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct cs_target *cs = ti->private;
	struct block_device *bdev = cs->dev->bdev;

	limits->logical_block_size = bdev_logical_block_size(bdev);
	limits->physical_block_size = bdev_physical_block_size(bdev);
	limits->io_min = max_t(unsigned int, limits->io_min, bdev_io_min(bdev));
	limits->io_opt = max_t(unsigned int, limits->io_opt, bdev_io_opt(bdev));
}

static struct target_type cs_target_type = {
	.name = CRYPTSNAP_TARGET_NAME,
	.version = { CRYPTSNAP_VERSION_MAJOR, CRYPTSNAP_VERSION_MINOR,
		     CRYPTSNAP_VERSION_PATCH },
	.module = THIS_MODULE,
	.ctr = cs_ctr,
	.dtr = cs_dtr,
	.map = cs_map,
	.end_io = cs_end_io,
	.status = cs_status,
	.message = cs_message,
	.iterate_devices = cs_iterate_devices,
	.io_hints = cs_io_hints,
};

int cs_target_register(void)
{
	return dm_register_target(&cs_target_type);
}

void cs_target_unregister(void)
{
	dm_unregister_target(&cs_target_type);
}
