/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version shims, force-included by Kbuild.  The only place in the
 * module allowed to test LINUX_VERSION_CODE.  Supported: 6.1 .. 6.12
 * (pinned by BUILD_EXCLUSIVE_KERNEL in dkms.conf).
 */
#ifndef CRYPTSNAP_COMPAT_H
#define CRYPTSNAP_COMPAT_H

#include <linux/version.h>

#ifndef __ASSEMBLY__
#include <linux/blkdev.h>
#include <linux/dm-io.h>
#include <linux/err.h>
#include <linux/ioprio.h>

/*
 * A block device opened by the module itself (not through a dm table):
 * the COW store and the snapshot's own read reference to the backing
 * device.  6.9 replaced blkdev_get_by_dev()/blkdev_put() by files.
 */
struct cs_bdev {
	struct block_device *bdev;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct file *file;
#else
	fmode_t mode;
#endif
};

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
static inline int cs_bdev_open(struct cs_bdev *b, dev_t dev, bool write,
			       void *holder)
{
	blk_mode_t mode = BLK_OPEN_READ | (write ? BLK_OPEN_WRITE : 0);

	b->file = bdev_file_open_by_dev(dev, mode, holder, NULL);
	if (IS_ERR(b->file))
		return PTR_ERR(b->file);
	b->bdev = file_bdev(b->file);
	return 0;
}

static inline void cs_bdev_close(struct cs_bdev *b)
{
	bdev_fput(b->file);
}
#else
static inline int cs_bdev_open(struct cs_bdev *b, dev_t dev, bool write,
			       void *holder)
{
	b->mode = FMODE_READ | (write ? FMODE_WRITE : 0) |
		  (holder ? FMODE_EXCL : 0);
	b->bdev = blkdev_get_by_dev(dev, b->mode, holder);
	if (IS_ERR(b->bdev))
		return PTR_ERR(b->bdev);
	return 0;
}

static inline void cs_bdev_close(struct cs_bdev *b)
{
	blkdev_put(b->bdev, b->mode);
}
#endif

/*
 * One asynchronous dm-io request on one region at the default priority.
 * dm_io() gained an I/O priority as a fifth argument upstream in 2024;
 * Debian's 6.1 has it too (backported with the stable fixes), so both
 * supported kernels use the same call.  A kernel without it fails to
 * build here, the one place to adapt.
 */
static inline int cs_dm_io_async(struct dm_io_request *req,
				 struct dm_io_region *where)
{
	return dm_io(req, 1, where, NULL, IOPRIO_DEFAULT);
}

/* Table open modes: fmode_t on 6.1, blk_mode_t since 6.5. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define CS_TABLE_MODE_READ	BLK_OPEN_READ
#else
#define CS_TABLE_MODE_READ	FMODE_READ
#endif

#endif /* __ASSEMBLY__ */
#endif
