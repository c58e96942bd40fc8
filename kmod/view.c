// SPDX-License-Identifier: GPL-2.0
/*
 * The "cryptsnap-view" target: a read-only image of an origin's snapshot.
 * It opens the origin's mapped device (so the origin cannot be removed
 * underneath it), finds the snapshot through the origin registry by that
 * device's dev_t, and holds a reference to it.  Reads go to the COW store
 * or to the backing device directly; the origin target is not in the
 * read path.
 */
#include <linux/bio.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "cryptsnap-dm.h"
#include "cryptsnap.h"
#include "snap.h"
#include "origin.h"

struct cs_view {
	struct dm_dev *origin;		/* the cryptsnap device */
	struct cs_snap *snap;
};

static int bind_snapshot(struct dm_target *ti, struct cs_view *v)
{
	struct cs_snap *s;
	int ret;

	s = cs_origin_find_snap(v->origin->bdev->bd_dev, &ti->error);
	if (IS_ERR(s))
		return PTR_ERR(s);
	if (ti->begin || ti->len != cs_snap_sectors(s)) {
		ti->error = "View must map the whole origin from sector 0";
		cs_snap_put(s);
		return -EINVAL;
	}
	/* One chunk per bio: each read comes from exactly one place. */
	ret = dm_set_target_max_io_len(ti, 1U << cs_snap_chunk_shift(s));
	if (ret) {
		cs_snap_put(s);
		return ret;
	}
	v->snap = s;
	return 0;
}

/*
 * Construct a snapshot view:
 *   <origin dev>
 * where <origin dev> is the cryptsnap device (path or major:minor) whose
 * current, active snapshot is shown.
 */
static int view_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct cs_view *v;
	int ret;

	if (argc != 1) {
		ti->error = "Expected <origin dev>";
		return -EINVAL;
	}
	v = kzalloc(sizeof(*v), GFP_KERNEL);
	if (!v) {
		ti->error = "Cannot allocate view context";
		return -ENOMEM;
	}
	ret = dm_get_device(ti, argv[0], CS_TABLE_MODE_READ, &v->origin);
	if (ret) {
		ti->error = "Origin device lookup failed";
		goto err_free;
	}
	ret = bind_snapshot(ti, v);
	if (ret)
		goto err_put;
	ti->per_io_data_size = sizeof(struct cs_view_io);
	ti->private = v;
	return 0;

err_put:
	dm_put_device(ti, v->origin);
err_free:
	kfree(v);
	return ret;
}

static void view_dtr(struct dm_target *ti)
{
	struct cs_view *v = ti->private;

	cs_snap_put(v->snap);
	dm_put_device(ti, v->origin);
	kfree(v);
}

static int view_map(struct dm_target *ti, struct bio *bio)
{
	struct cs_view *v = ti->private;
	struct cs_view_io *io = dm_per_bio_data(bio, sizeof(*io));

	io->registered = false;
	if (bio_op(bio) != REQ_OP_READ)
		return DM_MAPIO_KILL;
	return cs_snap_view_map(v->snap, bio, io);
}

static int view_end_io(struct dm_target *ti, struct bio *bio,
		       blk_status_t *error)
{
	struct cs_view *v = ti->private;
	struct cs_view_io *io = dm_per_bio_data(bio, sizeof(*io));

	cs_snap_view_end(v->snap, io, error);
	return DM_ENDIO_DONE;
}

static void view_status(struct dm_target *ti, status_type_t type,
			unsigned int status_flags, char *result,
			unsigned int maxlen)
{
	struct cs_view *v = ti->private;
	unsigned int sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		sz = cs_snap_emit_state(v->snap, result, maxlen, sz);
		DMEMIT(" %llu", (unsigned long long)cs_snap_counter(v->snap));
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s", v->origin->name);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",origin_dev=%s;", v->origin->name);
		break;
	}
}

static int view_iterate_devices(struct dm_target *ti,
				iterate_devices_callout_fn fn, void *data)
{
	struct cs_view *v = ti->private;

	return fn(ti, v->origin, 0, ti->len, data);
}

static struct target_type view_target_type = {
	.name = CRYPTSNAP_VIEW_TARGET_NAME,
	.version = { CRYPTSNAP_VERSION_MAJOR, CRYPTSNAP_VERSION_MINOR,
		     CRYPTSNAP_VERSION_PATCH },
	.module = THIS_MODULE,
	.ctr = view_ctr,
	.dtr = view_dtr,
	.map = view_map,
	.end_io = view_end_io,
	.status = view_status,
	.iterate_devices = view_iterate_devices,
};

int cs_view_register(void)
{
	return dm_register_target(&view_target_type);
}

void cs_view_unregister(void)
{
	dm_unregister_target(&view_target_type);
}
