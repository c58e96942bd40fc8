// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap shutdown / boot: carry a disk's change tracking across a clean
 * reboot (sys/track_map.h), so the first backup after it stays
 * incremental.  Any doubt restarts tracking, and the next backup is a
 * full scan that was announced here with its reason.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "sys/blkdev.h"
#include "sys/disk_lock.h"
#include "sys/disk_state.h"
#include "sys/dm.h"
#include "sys/luks.h"
#include "sys/origin.h"
#include "sys/track_map.h"

/* "cryptsnap CMD DISK": the disk's state, or an exit code (-1: --help). */
static int add_extent(uint64_t start, uint64_t len, void *arg)
{
	return track_map_add(arg, start, len);
}

/* The origin is suspended: export its live map and generation. */
static int export_map(const struct disk_state *d, struct track_map *m)
{
	struct origin_status st;
	struct luks_info li;
	int r;

	r = origin_status(d->origin, &st);
	if (r)
		return r;
	r = origin_live_changes(d->origin, st.chunks, add_extent, m);
	if (r)
		return r;
	r = luks_identify(d->backing, &li);
	if (r)
		return r;
	snprintf(m->luks_uuid, sizeof(m->luks_uuid), "%s", li.uuid);
	snprintf(m->gen_uuid, sizeof(m->gen_uuid), "%s", st.uuid);
	m->counter = st.counter;
	m->base = st.base;
	m->chunk_sectors = (uint32_t)st.chunk_sectors;
	return blk_size(d->backing, &m->size);
}

/* The map, then the target gone, then the counters that prove nothing
 * wrote the disk after this moment (same boot). */
static int shutdown_locked(const struct disk_state *d, struct track_map *m)
{
	struct origin_status st;
	dev_t dev;
	int r;

	if (origin_status(d->origin, &st))
		return fail_errno("shutdown", 0, "%s: tracking is not active (target %s missing): "
				  "nothing to save", d->name, d->origin);
	if (csdm_exists(d->crypt))
		return fail_errno("shutdown", -EBUSY, "%s: mapping %s is still open: close it first",
				  d->name, d->crypt);
	if (strcmp(st.snap_state, "none"))
		origin_snap_drop(d->origin);	/* a backup died: its set merges back */
	r = csdm_suspend(d->origin);
	if (r)
		return fail_errno("shutdown", r, "cannot suspend %s", d->origin);
	r = export_map(d, m);
	if (!r)
		r = csdm_remove(d->origin);
	if (r) {
		csdm_resume(d->origin);
		return fail_errno("shutdown", r, "%s: cannot export the change map", d->name);
	}
	r = blk_devno(d->backing, &dev);
	if (!r)
		r = track_env_read(dev, &m->env);
	if (!r)
		r = track_map_save(d->name, m);
	if (r)
		return fail_errno("shutdown", r, "%s: cannot save the change map (next backup is a full scan)",
				  d->name);
	printf("%s: saved the change map: generation %s/%" PRIu64 ", %" PRIu64 " extents; target removed\n",
	       d->name, m->gen_uuid, m->counter, m->n);
	return EXIT_OK;
}

int cmd_shutdown(int argc, char **argv)
{
	struct track_map m = { 0 };
	struct disk_state d;
	int r, lock_fd;

	r = cli_one_disk_arg("shutdown", argc, argv,
		     "cryptsnap shutdown DISK\n\nAt shutdown, after the disk's dm-crypt mapping is closed: saves the\n"
		     "change map and removes the cryptsnap target, so that 'cryptsnap boot'\n"
		     "can carry tracking over a clean reboot.", &d);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = cli_disk_lock("shutdown", d.name, &lock_fd);
	if (r)
		return r;
	r = shutdown_locked(&d, &m);
	disk_unlock(lock_fd);
	track_map_free(&m);
	return r;
}

static const char *map_error(int err)
{
	switch (err) {
	case -EBADMSG: return "the saved map is damaged (bad magic or checksum)";
	case -EPROTONOSUPPORT: return "the saved map has an unknown format version";
	case -EUCLEAN: return "the saved map is malformed";
	case -E2BIG: return "the saved map claims more extents than it holds";
	default: return NULL;
	}
}

/* 0 when the saved map may be replayed; else -ESTALE and why. */
static int judge_map(const struct disk_state *d, struct track_map *m, char *why, size_t len)
{
	struct track_disk td = { .chunk_sectors = d->chunk_sectors };
	struct track_env now;
	struct luks_info li;
	uint8_t *buf = NULL;
	size_t n = 0;
	dev_t dev;
	int r;

	r = track_map_take(d->name, &buf, &n);
	if (r == -ENOENT)
		return snprintf(why, len, "no saved change map (first start, crash or unclean shutdown)"), -ESTALE;
	if (!r)
		r = track_map_decode(buf, n, m);
	free(buf);
	if (r)
		return snprintf(why, len, "%s", map_error(r) ? map_error(r) : strerror(-r)), -ESTALE;
	r = luks_identify(d->backing, &li);
	if (!r)
		r = blk_size(d->backing, &td.size);
	if (!r)
		r = blk_devno(d->backing, &dev);
	if (!r)
		r = track_env_read(dev, &now);
	if (r)
		return snprintf(why, len, "cannot check the LUKS device: %s", strerror(-r)), -ESTALE;
	td.luks_uuid = li.uuid;
	return track_map_check(m, &td, &now, why, len);
}

/* Tracking never stopped: a saved map is stale by definition. */
static void discard_map(const char *name)
{
	uint8_t *buf = NULL;
	size_t n;

	if (!track_map_take(name, &buf, &n))
		free(buf);
}

/* A fresh origin continues the saved generation, with the saved changes. */
static int replay(const struct disk_state *d, const struct track_map *m, char *why, size_t len)
{
	int r = origin_adopt(d->origin, m->gen_uuid, m->counter, m->base);

	if (!r)
		r = origin_merge(d->origin, m->ext, m->n);
	if (!r)
		return 0;
	snprintf(why, len, "the kernel refused the saved map: %s", strerror(-r));
	return origin_reset(d->origin) ? r : -ESTALE;
}

static int boot_locked(const struct disk_state *d, struct track_map *m)
{
	char why[320];
	uint64_t size;
	int r, ok;

	if (csdm_exists(d->origin)) {
		discard_map(d->name);
		printf("%s: tracking already active\n", d->name);
		return EXIT_OK;
	}
	ok = judge_map(d, m, why, sizeof(why)) == 0;
	if (csdm_exists(d->crypt))
		return fail_errno("boot", -EBUSY, "%s: mapping %s is already open on %s; run boot "
				  "before it is opened (next backup re-stacks and scans everything)",
				  d->name, d->crypt, d->backing);
	r = blk_size(d->backing, &size);
	if (!r)
		r = origin_create(d->origin, d->backing, size >> 9, d->chunk_sectors);
	if (r)
		return fail_errno("boot", r, "%s: cannot create the cryptsnap target over %s",
				  d->name, d->backing);
	if (ok) {
		r = replay(d, m, why, sizeof(why));
		if (r && r != -ESTALE)
			return fail_errno("boot", r, "%s: cannot reset tracking after a failed replay", d->name);
		ok = !r;
	}
	if (ok)
		printf("%s: tracking resumed: generation %s/%" PRIu64 " with %" PRIu64 " saved extents\n",
		       d->name, m->gen_uuid, m->counter, m->n);
	else
		printf("%s: tracking restarted: %s; the next backup is a full scan\n", d->name, why);
	return EXIT_OK;
}

int cmd_boot(int argc, char **argv)
{
	struct track_map m = { 0 };
	struct disk_state d;
	int r, lock_fd;

	r = cli_one_disk_arg("boot", argc, argv,
		     "cryptsnap boot DISK\n\nAt boot, before the disk's dm-crypt mapping is opened: creates the\n"
		     "cryptsnap target over the LUKS device and loads the change map saved\n"
		     "by 'cryptsnap shutdown' if it proves nothing wrote the disk since;\n"
		     "otherwise says why tracking restarts (the next backup is full).\n"
		     "Open the mapping on /dev/mapper/cryptsnap-DISK afterwards.", &d);
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = cli_disk_lock("boot", d.name, &lock_fd);
	if (r)
		return r;
	r = boot_locked(&d, &m);
	disk_unlock(lock_fd);
	track_map_free(&m);
	return r;
}
