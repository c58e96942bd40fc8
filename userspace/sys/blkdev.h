/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_BLKDEV_H
#define CRYPTSNAP_BLKDEV_H

/*
 * Block devices: identification (the only user of libblkid), sizes,
 * stacking (sysfs) and the loop-backed COW store.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int blk_devno(const char *path, dev_t *dev);
int blk_size(const char *path, uint64_t *bytes);
/* 1 if bottom is top itself or anywhere beneath it in the stack, else 0. */
int blk_depends_on(dev_t top, dev_t bottom);
/* "/dev/dm-3" style path of a device number. */
void blk_path(dev_t dev, char *out, size_t len);
/* libblkid: 0 and the UUID if path carries a LUKS signature, -ENODEV if not. */
int blk_probe_luks(const char *path, char *uuid, size_t len);
/* libblkid: 0 and the filesystem type ("ext4", "xfs"), -ENODEV if none. */
int blk_probe_fstype(const char *path, char *type, size_t len);

/*
 * A COW store: a sparse file of size bytes in dir, attached to a free loop
 * device with autoclear and unlinked at once, so it disappears by itself
 * when the last user (the kernel snapshot) lets go, even if we crash.
 * *fd keeps the loop device alive until the caller hands it to the kernel.
 * *watch is a second, read-only open of the file (its own writeback error
 * cursor) for cow_check().
 */
int cow_create(const char *dir, const char *name, uint64_t size, char *loopdev,
	       size_t len, int *fd, int *watch);
/*
 * 0 if no write of the COW file failed at writeback since cow_create()
 * opened *watch, else the error (-EIO, -ENOSPC).  The loop device writes
 * the file through the page cache: such a write completes before it
 * reaches the disk, so the kernel target never sees its error, and once
 * the page is evicted the snapshot reads back what the disk holds there.
 * Waits for writeback under way; starts none.
 */
int cow_check(int watch);
/* Refuses (-ELOOP) a directory whose filesystem sits on the device. */
int cow_dir_check(const char *dir, dev_t protected_dev);

#endif
