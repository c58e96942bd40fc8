/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_PROTECT_H
#define CRYPTSNAP_PROTECT_H

/*
 * Protecting a disk: find its LUKS device and dm-crypt mapping, stack the
 * cryptsnap target underneath live, and take it out again.  No printing;
 * negative errno.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sys/disk_state.h"

struct resolved {
	char backing[DISK_PATH_MAX];	/* LUKS (ciphertext) device */
	dev_t backing_dev;
	char crypt[128];		/* active dm-crypt mapping, "" if closed */
	int stacked;			/* the mapping already sits on a cryptsnap target */
	char through[128];		/* ... or on this pass-through (origin_passthrough) */
};

/* DEVICE: a LUKS block device, /dev/mapper/NAME or an open mapping NAME. */
int disk_resolve(const char *device, struct resolved *r);

/*
 * Create the origin target over d->backing and put it under the dm-crypt
 * mapping d->crypt: live (reload with the volume key, suspend, resume) if
 * the mapping is open, else open the mapping on top of the target.
 * A pass-through named d->origin over d->backing is reloaded in place.
 */
int disk_stack(const struct disk_state *d, int mapping_open,
	       const uint8_t *key, size_t key_len);
/*
 * Put the mapping back on the backing device and remove the origin.  A
 * mapping opened by cryptsetup or systemd-cryptsetup names its LUKS2
 * volume key in the kernel keyring, gone after activation: its table can
 * be reloaded only with the key (the passphrase, key/key_len); without
 * one, the origin becomes a linear pass-through that stays under the
 * mapping until it is closed (*through = 1).  disk_stack reuses it.
 */
int disk_unstack(const struct disk_state *d, const uint8_t *key, size_t key_len,
		 int *through);
/* Removes the pass-through "cryptsnap-<name>" (-ENOENT: none; -EBUSY: a
 * mapping still sits on it). */
int disk_through_remove(const char *name);

/*
 * -EBUSY (and the disk's name) when writing to path would overwrite a
 * protected disk: the backing device itself, anything stacked on it, or
 * the whole disk it is a partition of.
 */
int disk_guard_target(const char *path, char *disk, size_t len);
/* The one vault all protected disks use, or -ENOENT / -EEXIST (several). */
int disk_default_vault(char *vault, size_t len);

/* The key: from a file, or read from the terminal without echo.  In secmem. */
int key_read(const char *key_file, uint8_t **key, size_t *len);

#endif
