/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_DISK_H
#define CRYPTSNAP_VAULT_DISK_H

/*
 * Disk records: one sealed object "disks/<name>.disk" per protected disk,
 * holding public facts about it and its escrowed key (LUKS passphrase or
 * keyfile) in an ESCROW_KEK slot, so the key is in the vault before the
 * first recovery point and every backup can check it still opens the
 * header.  Sealed with the DEK (type 'R') and bound to the disk name; the
 * key slot is re-wrapped by a KEK rotation like the slots of points.
 * Never touched by GC.  All functions return 0 or a negative errno.
 */
#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"
#include "vault/vault_blob.h"
#include "vault/vault_manifest.h"

#define DISK_UUID_MAX		40
#define DISK_MAX_META		16
#define DISK_META_KEY_MAX	32
#define DISK_META_VAL_MAX	256
#define DISK_SECRET_MAX		(8U << 20)	/* cryptsetup's keyfile limit */
#define DISK_KEY_SLOT		"key"

struct vault_disk_rec {			/* public, non-secret facts */
	char name[DISK_NAME_MAX + 1];
	char luks_uuid[DISK_UUID_MAX];	/* canonical 8-4-4-4-12 hex */
	int luks_version;		/* 1 or 2 */
	uint64_t size;			/* bytes, > 0 */
	uint32_t chunk_size;		/* tracking chunk, power of two */
	int64_t created;		/* set by put when 0 */
	int64_t key_escrowed;		/* set by put when it stores a secret */
	unsigned int nmeta;
	char meta_key[DISK_MAX_META][DISK_META_KEY_MAX];
	char meta_val[DISK_MAX_META][DISK_META_VAL_MAX];
};

/*
 * Creates or replaces the record.  secret (1..DISK_SECRET_MAX bytes) is
 * sealed as a fresh ESCROW_KEK slot; secret NULL keeps the escrowed key of
 * the existing record (-ENOENT without one).  created is kept from an
 * existing record.  Takes a shared vault lock unless the caller holds one
 * (-EBUSY while a key rotation or GC runs).  Needs unlocked keys.
 */
int vault_disk_put(struct vault *v, const struct vault_disk_rec *rec,
		   const uint8_t *secret, size_t secret_len);
/* secret NULL: the record only.  Otherwise *secret is secmem_alloc()ed and
 * the caller secmem_free()s it.  -ENOENT: no such disk; -EBADMSG: sealed
 * for another name or damaged; -EUCLEAN: malformed. */
int vault_disk_get(struct vault *v, const char *name, struct vault_disk_rec *rec,
		   uint8_t **secret, size_t *secret_len);
/* Names of recorded disks, sorted. */
int vault_disk_list(struct vault *v, struct name_list *names);
/* Takes a shared lock like put; -ENOENT when there is no such record. */
int vault_disk_delete(struct vault *v, const char *name);

int vault_disk_set_meta(struct vault_disk_rec *rec, const char *key, const char *val);
const char *vault_disk_meta(const struct vault_disk_rec *rec, const char *key);

/* Codec (exposed for tests): the JSON inside the sealed object. */
int vault_disk_encode(const struct vault_disk_rec *rec, const struct escrow_slot *key,
		      char **out, size_t *len);
int vault_disk_decode(const void *buf, size_t len, struct vault_disk_rec *rec,
		      struct escrow_slot *key);

/* For key rotation, under the caller's exclusive lock: load and save a
 * record with its (still wrapped) key slot; and apply fn to the key slot
 * of every record, saving those fn changed (fn returns > 0). */
int vault_disk_load(struct vault *v, struct blob_ctx *c, const char *name,
		    struct vault_disk_rec *rec, struct escrow_slot *key);
int vault_disk_save(struct vault *v, struct blob_ctx *c, const struct vault_disk_rec *rec,
		    const struct escrow_slot *key);
int vault_disk_for_each_key(struct vault *v,
			    int (*fn)(struct vault *, struct escrow_slot *, void *),
			    void *arg);

#endif
