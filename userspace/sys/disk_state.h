/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_DISK_STATE_H
#define CRYPTSNAP_DISK_STATE_H

/*
 * Local state of a protected disk: /var/lib/cryptsnap/disks/<name>.json
 * (directory 0700, files 0600; CRYPTSNAP_STATE_DIR overrides the base for
 * tests).  Holds no secrets: the escrowed key lives in the vault.
 */
#include <stdint.h>
#include <sys/types.h>

#include "lib/names.h"

#define DISK_PATH_MAX	4096
/* The sparse COW store of a backup's snapshot: 1 MiB .. 16 TiB (ext4's
 * largest file). */
#define COW_SIZE_MIN	(1ULL << 20)
#define COW_SIZE_MAX	(1ULL << 44)

struct disk_state {
	char name[DISK_NAME_MAX + 1];
	char vault[DISK_PATH_MAX];
	char kek[DISK_PATH_MAX];	/* "" = the vault's recorded KEK */
	char backing[DISK_PATH_MAX];	/* LUKS device (ciphertext) */
	char crypt[128];		/* dm-crypt mapping stacked on the origin */
	char origin[128];		/* cryptsnap target name */
	char luks_uuid[40];
	uint32_t chunk_sectors;
	uint64_t size;			/* bytes */
	char cow_dir[DISK_PATH_MAX];
	uint64_t cow_size;		/* bytes; sparse */
	char pre_freeze[DISK_PATH_MAX];	/* optional hook scripts */
	char post_thaw[DISK_PATH_MAX];
	/* The last recovery point and the tracking it was taken under. */
	char last_point[48];
	char last_uuid[40];
	uint64_t last_counter;
	/* LUKS layout fingerprint at that point (luks_meta.h), hex; "" unknown */
	char last_layout[65];
	int64_t created;
};

const char *disk_state_dir(void);
/* Creates the state directories (0700). */
int disk_state_prepare(void);
int disk_state_load(const char *name, struct disk_state *d);
int disk_state_save(const struct disk_state *d);
int disk_state_delete(const char *name);
/* Calls fn for every protected disk; stops at a non-zero return. */
int disk_state_each(int (*fn)(const struct disk_state *d, void *arg), void *arg);

#endif
