// SPDX-License-Identifier: GPL-2.0
/*
 * The snapshot side of "cryptsnap backup DISK" (steps 2 and 3 in
 * cmd_backup_disk.c): tracking target, freeze and snapshot, the view, and
 * the LUKS header area as it is at the snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cryptsnap-dm.h"
#include "cli/backup_disk.h"
#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sys/blkdev.h"
#include "sys/dm.h"
#include "sys/luks.h"
#include "sys/protect.h"

/* Runs a pre-freeze / post-thaw hook; non-zero exit is a failure. */
static int hook(const char *path, const char *disk, const char *phase)
{
	pid_t pid;
	int st;

	if (!path[0])
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		execl(path, path, disk, phase, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -ECANCELED;
}

/*
 * Whatever an interrupted run left behind: a view and a snapshot whose
 * change set is unresolved.  Dropping it merges the set back (abort).
 */
static void cleanup_stale(struct bk *b)
{
	if (csdm_exists(b->view))
		csdm_remove(b->view);
	if (strcmp(b->st.snap_state, "none"))
		origin_snap_drop(b->d.origin);
}

/* Tracking must be running; after a reboot the target is re-stacked. */
int bk_ensure_origin(struct bk *b)
{
	struct resolved r;
	int ret;

	if (!origin_status(b->d.origin, &b->st)) {
		cleanup_stale(b);
		return 0;
	}
	ret = disk_resolve(b->d.backing, &r);
	if (ret)
		return fail_errno("backup", ret, "disk %s: cannot find %s", b->d.name, b->d.backing);
	ret = disk_stack(&b->d, r.crypt[0] && !strcmp(r.crypt, b->d.crypt), b->key, b->key_len);
	if (ret)
		return fail_errno("backup", ret, "disk %s: cannot re-stack the cryptsnap target", b->d.name);
	fprintf(stderr, "cryptsnap backup: %s: tracking target was missing (reboot?); re-stacked it\n",
		b->d.name);
	return origin_status(b->d.origin, &b->st) ? EXIT_FAIL : 0;
}

int bk_freeze_and_snap(struct bk *b)
{
	char loop[64];
	struct timespec t0, t1;
	int r, r2;

	r = cow_create(b->d.cow_dir, b->d.name, b->cow_size ? b->cow_size : b->d.cow_size,
		       loop, sizeof(loop), &b->cow_fd, &b->cow_watch);
	if (r)
		return fail_errno("backup", r, "cannot provision the COW store in %s", b->d.cow_dir);
	r = hook(b->d.pre_freeze, b->d.name, "pre-freeze");
	if (r)
		return fail_errno("backup", r, "pre-freeze hook %s failed", b->d.pre_freeze);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = csdm_suspend(b->d.crypt);
	if (r)
		return fail_errno("backup", r, "cannot suspend %s", b->d.crypt);
	r = origin_snap_take(b->d.origin, loop);
	r2 = csdm_resume(b->d.crypt);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	b->freeze_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	close(b->cow_fd);	/* the snapshot holds the loop device now */
	b->cow_fd = -1;
	if (r2)
		fprintf(stderr, "cryptsnap backup: WARNING: cannot resume %s: %s\n", b->d.crypt, strerror(-r2));
	if (r)
		return fail_errno("backup", r, "cannot take a snapshot of %s", b->d.name);
	b->snap = 1;
	r = hook(b->d.post_thaw, b->d.name, "post-thaw");
	if (r)
		return fail_errno("backup", r, "post-thaw hook %s failed", b->d.post_thaw);
	return origin_status(b->d.origin, &b->st) ? fail_errno("backup", -EPROTO, "status of %s", b->d.origin) : 0;
}

void bk_decide_mode(struct bk *b)
{
	char layout[LUKS_META_HASH_HEX];

	luks_meta_hex(b->meta.layout, layout);
	if (b->full)
		snprintf(b->reason, sizeof(b->reason), "--full given");
	else if (!b->d.last_point[0])
		snprintf(b->reason, sizeof(b->reason), "first recovery point");
	else if (strcmp(b->st.uuid, b->d.last_uuid) || b->st.base != b->d.last_counter)
		snprintf(b->reason, sizeof(b->reason),
			 "change tracking was not continuous since point %s (target re-created or reset)",
			 b->d.last_point);
	else if (!b->d.last_layout[0])
		snprintf(b->reason, sizeof(b->reason),
			 "no LUKS layout was recorded with point %s", b->d.last_point);
	else if (strcmp(layout, b->d.last_layout))
		snprintf(b->reason, sizeof(b->reason),
			 "LUKS data layout or volume key changed since point %s (reencryption, "
			 "header restore or reformat below the target)", b->d.last_point);
	else
		b->incremental = 1;
}

/* What the admin can do about each reason the kernel gives. */
static const char *invalid_hint(const char *state)
{
	const char *reason = strchr(state, ':');

	reason = reason ? reason + 1 : "";
	if (!strcmp(reason, CRYPTSNAP_REASON_COW_TIMEOUT))
		return "the COW store stopped answering; check the storage under it";
	if (!strcmp(reason, CRYPTSNAP_REASON_MEMORY))
		return "the kernel memory budget of the snapshot ran out; raise it or back up "
		       "when fewer writes happen";
	if (!strcmp(reason, CRYPTSNAP_REASON_ORIGIN_IO))
		return "the disk could not be read";
	if (!strcmp(reason, CRYPTSNAP_REASON_COW_IO))
		return "the COW store failed a write";
	return "COW store, or the free space under it, too small for the writes meanwhile? "
	       "see --cow-size";
}

/*
 * After a failure touching the snapshot: when the kernel invalidated it,
 * say so in one line, since that is the cause the admin can act on.
 * Returns 1 if it did.
 */
int bk_snapshot_invalid(struct bk *b)
{
	struct origin_status st;

	if (origin_status(b->d.origin, &st) || strncmp(st.snap_state, "invalid", 7))
		return 0;
	fail_errno("backup", 0, "snapshot of %s became %s during the backup (%s; COW store of %"
		   PRIu64 " MiB in %s); backup stopped, nothing stored, no change is lost and the "
		   "VM was not affected", b->d.name, st.snap_state, invalid_hint(st.snap_state),
		   (b->cow_size ? b->cow_size : b->d.cow_size) >> 20, b->d.cow_dir);
	return 1;
}

/*
 * After the last read of the view, before anything is sealed: a COW page
 * whose writeback failed may have been evicted and read back from the
 * disk (stale or zero bytes) with no error anywhere.  Any writeback error
 * of the COW file during the snapshot's life stops the backup.
 */
int bk_cow_check(struct bk *b)
{
	int r = cow_check(b->cow_watch);

	if (!r)
		return 0;
	log_event(LOG_ERR, "backup stopped: disk=%s cow_dir=%s writeback error: %s", b->d.name,
		  b->d.cow_dir, strerror(-r));
	return fail_errno("backup", 0, "the COW store of %s in %s lost a write at writeback (%s): "
			  "what the snapshot read from it may be wrong; backup stopped, nothing "
			  "stored, no change is lost and the VM was not affected; check the storage "
			  "under %s", b->d.name, b->d.cow_dir, strerror(-r), b->d.cow_dir);
}

int bk_open_view(struct bk *b)
{
	dev_t odev;
	int r;

	r = csdm_devno(b->d.origin, &odev);
	if (!r)
		r = origin_view_create(b->view, odev, b->d.size >> 9);
	if (r)
		return bk_snapshot_invalid(b) ? EXIT_FAIL : fail_errno("backup", r, "cannot create the snapshot view");
	snprintf(b->view_path, sizeof(b->view_path), "/dev/mapper/%s", b->view);
	/*
	 * Direct reads: no readahead touches chunks the backup released
	 * (the kernel refuses those reads), and no page cache is kept of
	 * a device that is gone after the backup.
	 */
	b->view_fd = open(b->view_path, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (b->view_fd < 0) {
		r = -errno;
		return bk_snapshot_invalid(b) ? EXIT_FAIL : fail_errno("backup", r, "cannot open %s", b->view_path);
	}
	return 0;
}

/*
 * The LUKS header area as it is at the snapshot, read whole through the
 * view: it goes into the image (its chunks are always fed) and into the
 * "luks-header" escrow slot, the same bytes.
 */
int bk_read_header(struct bk *b)
{
	struct luks_info li;
	int r;

	r = luks_identify(b->view_path, &li);
	if (r)
		return fail_errno("backup", r, "the snapshot of %s holds no readable LUKS header", b->d.name);
	if (strcmp(li.uuid, b->d.luks_uuid))
		return fail_errno("backup", 0, "the snapshot of %s carries LUKS UUID %s, not %s "
				  "(reformatted? protect it again)", b->d.name, li.uuid, b->d.luks_uuid);
	if (!li.header_area || li.header_area > HEADER_MAX || li.header_area > b->d.size)
		return fail_errno("backup", -EFBIG, "LUKS header area of %s is %" PRIu64
				  " bytes (at most %u supported)", b->d.name, li.header_area, HEADER_MAX);
	b->header_len = li.header_area;
	if (posix_memalign((void **)&b->header, 4096, b->header_len))
		b->header = NULL;
	if (!b->header)
		return fail_errno("backup", -ENOMEM, "header of %s", b->d.name);
	r = pread_full(b->view_fd, b->header, b->header_len, 0);
	if (r)
		return bk_snapshot_invalid(b) ? EXIT_FAIL :
		       fail_errno("backup", r, "cannot read the LUKS header of %s", b->d.name);
	r = luks_meta_parse(b->header, b->header_len, &b->meta);
	if (!r && (b->meta.area != li.header_area || strcmp(b->meta.uuid, li.uuid)))
		r = -EPROTO;
	return r ? fail_errno("backup", r, "cannot parse the LUKS header of %s at the snapshot",
			      b->d.name) : 0;
}
