/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_DISK_LOCK_H
#define CRYPTSNAP_DISK_LOCK_H

/*
 * The per-disk lock on this host: flock(LOCK_EX) on
 * <state dir>/disks/<name>.lock (0600, in the 0700 state directory), held
 * by backup DISK, protect, unprotect and key escrow for their whole run.
 * The kernel releases it when the holder exits, however it exits, so it is
 * never stale.  The file holds the holder's pid for humans; the pid
 * reported to a refused caller comes from /proc/locks when it can.
 */
#include <sys/types.h>

/* Takes the lock of disk name without waiting.  0 and *fd set, or -EBUSY
 * with *holder the pid holding it (0 when unknown), or another -errno. */
int disk_lock(const char *name, int *fd, pid_t *holder);
/* Releases it; fd < 0 is ignored. */
void disk_unlock(int fd);
/* While holding the lock: removes its file (unprotect), then releases. */
void disk_unlock_remove(const char *name, int fd);

#endif
