/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_LUKS_H
#define CRYPTSNAP_LUKS_H

#include <stddef.h>
#include <stdint.h>

/*
 * The only door to libcryptsetup.  Negative errno on failure: -ENODEV not
 * a LUKS device, -EPERM the key opens no keyslot.
 */
struct luks_info {
	int version;			/* 1 or 2 */
	char uuid[40];
	char cipher[64];		/* e.g. "aes-xts-plain64" */
	uint64_t data_offset;		/* sectors */
	uint32_t sector_size;		/* bytes */
	uint32_t key_size;		/* bytes */
	/* Bytes from the start of the device that hold LUKS metadata: LUKS1
	 * up to the payload, LUKS2 both header copies and the keyslot area. */
	uint64_t header_area;
};

int luks_identify(const char *device, struct luks_info *info);
/* Returns the keyslot the key opens (>= 0).  device may also be a header
 * backup file: libcryptsetup reads it like a device. */
int luks_check_key(const char *device, const void *key, size_t key_len);
/*
 * The volume key, into secmem (*vk, *vk_len); the caller frees with
 * secmem_free.  Needed only to restack a live mapping.
 */
int luks_volume_key(const char *device, const void *key, size_t key_len,
		    uint8_t **vk, size_t *vk_len);
/* The device's LUKS header (and keyslot area) as a file-sized blob. */
int luks_header_backup(const char *device, const char *file);
/* Open (activate) the LUKS device as /dev/mapper/<name>. */
int luks_open(const char *device, const char *name, const void *key, size_t key_len);
/* Open device read-only as /dev/mapper/<name>, the volume key in the
 * kernel keyring; -EPERM: the key opens no keyslot. */
int luks_open_readonly(const char *device, const char *name, const void *key,
		       size_t key_len);
/* Deactivate /dev/mapper/<name>; -ENODEV when there is none, -EBUSY when
 * it is in use. */
int luks_close(const char *name);

#endif
