// SPDX-License-Identifier: GPL-2.0
/*
 * libcryptsetup layer: identify LUKS devices, check keys, back up headers,
 * and fetch the volume key when a live mapping must be restacked.  The
 * library's own messages are suppressed; errors travel as errno.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libcryptsetup.h>

#include "lib/secmem.h"
#include "sys/luks.h"

static void quiet(int level, const char *msg, void *usrptr)
{
}

static int open_luks(const char *device, struct crypt_device **cd)
{
	int ret;

	crypt_set_log_callback(NULL, quiet, NULL);
	ret = crypt_init(cd, device);
	if (ret < 0)
		return ret;
	crypt_set_log_callback(*cd, quiet, NULL);
	ret = crypt_load(*cd, CRYPT_LUKS, NULL);
	if (ret < 0) {
		crypt_free(*cd);
		*cd = NULL;
		return ret == -EINVAL ? -ENODEV : ret;
	}
	return 0;
}

static int header_area(struct crypt_device *cd, struct luks_info *info)
{
	uint64_t md = 0, ks = 0;
	int ret;

	if (info->version == 1) {
		info->header_area = info->data_offset * 512;
		return 0;
	}
	ret = crypt_get_metadata_size(cd, &md, &ks);
	if (ret < 0)
		return ret;
	info->header_area = 2 * md + ks;
	return 0;
}

int luks_identify(const char *device, struct luks_info *info)
{
	struct crypt_device *cd;
	const char *type;
	int ret;

	ret = open_luks(device, &cd);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	type = crypt_get_type(cd);
	info->version = type && !strcmp(type, CRYPT_LUKS2) ? 2 : 1;
	snprintf(info->uuid, sizeof(info->uuid), "%s", crypt_get_uuid(cd) ?: "");
	snprintf(info->cipher, sizeof(info->cipher), "%s-%s",
		 crypt_get_cipher(cd) ?: "?", crypt_get_cipher_mode(cd) ?: "?");
	info->data_offset = crypt_get_data_offset(cd);
	info->sector_size = (uint32_t)crypt_get_sector_size(cd);
	info->key_size = (uint32_t)crypt_get_volume_key_size(cd);
	ret = header_area(cd, info);
	crypt_free(cd);
	return ret;
}

/*
 * Activate the device as name with the key, or with name NULL only verify
 * the key (nothing is activated).  Returns the keyslot it opened.
 */
static int activate(const char *device, const char *name, const void *key,
		    size_t key_len)
{
	struct crypt_device *cd;
	int ret;

	ret = open_luks(device, &cd);
	if (ret)
		return ret;
	/*
	 * Keep the volume key in the table, not in the kernel keyring: the
	 * keyring key is gone after activation, and unprotect must be able
	 * to reload this table onto the backing device later.
	 */
	if (name)
		ret = crypt_volume_key_keyring(cd, 0);
	if (!ret)
		ret = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, key, key_len, 0);
	crypt_free(cd);
	return ret;
}

int luks_check_key(const char *device, const void *key, size_t key_len)
{
	return activate(device, NULL, key, key_len);
}

int luks_volume_key(const char *device, const void *key, size_t key_len,
		    uint8_t **vk, size_t *vk_len)
{
	struct crypt_device *cd;
	size_t len;
	uint8_t *buf;
	int ret;

	ret = open_luks(device, &cd);
	if (ret)
		return ret;
	len = (size_t)crypt_get_volume_key_size(cd);
	buf = len ? secmem_alloc(len) : NULL;
	if (!buf) {
		crypt_free(cd);
		return -ENOMEM;
	}
	ret = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)buf, &len, key,
				   key_len);
	crypt_free(cd);
	if (ret < 0) {
		secmem_free(buf);
		return ret;
	}
	*vk = buf;
	*vk_len = len;
	return 0;
}

int luks_header_backup(const char *device, const char *file)
{
	struct crypt_device *cd;
	int ret;

	ret = open_luks(device, &cd);
	if (ret)
		return ret;
	ret = crypt_header_backup(cd, NULL, file);
	crypt_free(cd);
	return ret;
}

int luks_open(const char *device, const char *name, const void *key, size_t key_len)
{
	int ret = activate(device, name, key, key_len);

	return ret < 0 ? ret : 0;
}

/*
 * Read-only activation for a mounted recovery point: the volume key goes
 * to the kernel keyring as cryptsetup itself does it (nothing reloads
 * this table later).
 */
int luks_open_readonly(const char *device, const char *name, const void *key,
		       size_t key_len)
{
	struct crypt_device *cd;
	int ret;

	ret = open_luks(device, &cd);
	if (ret)
		return ret;
	ret = crypt_activate_by_passphrase(cd, name, CRYPT_ANY_SLOT, key, key_len,
					   CRYPT_ACTIVATE_READONLY);
	crypt_free(cd);
	return ret < 0 ? ret : 0;
}

int luks_close(const char *name)
{
	struct crypt_device *cd;
	int ret;

	crypt_set_log_callback(NULL, quiet, NULL);
	ret = crypt_init_by_name(&cd, name);
	if (ret < 0)
		return ret;
	crypt_set_log_callback(cd, quiet, NULL);
	ret = crypt_deactivate(cd, name);
	crypt_free(cd);
	return ret;
}
