/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_H
#define CRYPTSNAP_VAULT_H

/*
 * The vault: configuration, unlocked keys and the storage backend.  Layout
 * and formats are documented in docs/vault-format.md.  All functions
 * return 0 or a negative errno.
 */
#include <stddef.h>
#include <stdint.h>

#include "store/backend.h"

#define VAULT_FORMAT_VERSION	1
#define VAULT_ID_LEN		16
#define VAULT_CHUNK_DEFAULT	(64U << 10)
#define VAULT_CHUNK_MIN		(4U << 10)
#define VAULT_CHUNK_MAX		(8U << 20)
#define VAULT_SEG_CHUNKS	4096U
#define VAULT_PACK_DEFAULT	(16U << 20)
#define VAULT_PACK_MAX		(256U << 20)
#define VAULT_MAX_DEKS		255	/* every DEK id 1..255 */
#define VAULT_GRACE_DEFAULT	(14 * 86400LL)	/* deleted points, 14 days */
#define VAULT_GRACE_MAX		(36500 * 86400LL)

enum kek_mode {
	KEK_MODE_VAULT = 1,	/* random AES-256 KEK in a root-only key file */
	KEK_MODE_CUSTOMER = 2,	/* customer RSA key, OAEP-SHA-256 */
};

struct vault_kek;
struct vault_keys;

struct vault {
	struct backend *be;
	uint8_t id[VAULT_ID_LEN];
	char id_hex[2 * VAULT_ID_LEN + 1];
	uint32_t chunk_size;
	uint32_t seg_chunks;
	uint32_t pack_size;
	int64_t created;
	/* Soft delete (vault_softdel.h), as config.json says: untrusted, the
	 * host's pin keeps what it saw (never shorter, never unlocked). */
	int64_t deleted_grace;		/* seconds a deleted point is kept */
	int retention_lock;		/* 1: grace and retain-until only grow */
	int64_t grace_override;		/* -1: none; else this host's setting */
	struct vault_keys *keys;	/* NULL until vault_unlock() */
	struct vault_lock *lock;	/* NULL unless locked */
};

struct vault_init_opts {
	const char *kek_file;		/* RSA PEM: customer-managed */
	const char *key_dir;		/* where a vault-managed KEK goes */
	uint32_t chunk_size;
	int grace_set;			/* 0: VAULT_GRACE_DEFAULT */
	int64_t deleted_grace;		/* seconds */
	int retention_lock;
};

/* Rewrites config.json with v's fields (vault_softdel.c). */
int vault_config_write(struct vault *v);

int vault_init(const char *location, const struct vault_init_opts *o,
	       char *kek_path_out, size_t kek_path_len);
int vault_open(const char *location, struct vault **out);
/* Unwraps the vault keys with the KEK this host pinned (vault_pin.h);
 * kek_file names it (it must be the pinned one, or is pinned when there is
 * no pin).  -EKEYREVOKED: the keyring is not the pinned one; -ENOKEY: no
 * pin and no KEK for it on this host; -EBADE: the pin file is not trusted
 * (mode, owner or content); -EKEYREJECTED: wrong KEK. */
int vault_unlock(struct vault *v, const char *kek_file);
void vault_close(struct vault *v);

/* Default directory for vault-managed KEK files. */
const char *vault_key_dir(void);

/* Locks: many shared holders (backup, restore, verify) or one exclusive
 * (GC, key rotation).  Stale locks of dead processes on this host are
 * removed; a lock of another host is never guessed dead: it is shown
 * (vault_lock_blocker) and broken only by an explicit vault_lock_break.
 * Objects under locks/ whose names are not exactly a lock name are
 * ignored: neither obeyed nor deleted. */
enum { VAULT_LOCK_SHARED = 1, VAULT_LOCK_EXCLUSIVE = 2 };
int vault_lock(struct vault *v, int kind);
void vault_lock_release(struct vault *v);

#define VAULT_LOCK_NAME_MAX 128
struct vault_lock_info {
	char name[VAULT_LOCK_NAME_MAX];	/* "<host>_<pid>_<rand>.<kind>" */
	char host[64];			/* normalised (lib/names.h) */
	long pid;
	int exclusive;
	int local;			/* taken on this machine */
	int stale;			/* local and its process is gone */
	int64_t time;			/* taken at, per its body; -1 unknown */
};
/* Parses a lock name as listed (without "locks/"); -EINVAL unless it is
 * exactly one: no path component, a valid host, a pid, 16 hex digits. */
int vault_lock_name_parse(const char *name, struct vault_lock_info *out);
/* Every well-formed lock, sorted by name, *out malloc'ed; *bad counts
 * the ignored objects. */
int vault_lock_list(struct vault *v, struct vault_lock_info **out, size_t *n,
		    size_t *bad);
/* After vault_lock() returned -EBUSY: a live lock in the way of kind.
 * -ENOENT when none is left. */
int vault_lock_blocker(struct vault *v, int kind, struct vault_lock_info *out);
/* Removes lock name (as listed).  -EINVAL for a malformed name, -ENOENT
 * when there is no such lock, -EBUSY for our own. */
int vault_lock_break(struct vault *v, const char *name);

/* Activity log of key changes, one authenticated object per event
 * (vault_log.h); needs unlocked keys. */
int vault_log_event(struct vault *v, const char *event, const char *detail);


#endif
