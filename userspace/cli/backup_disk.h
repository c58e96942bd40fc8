/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CLI_BACKUP_DISK_H
#define CRYPTSNAP_CLI_BACKUP_DISK_H

/*
 * "cryptsnap backup DISK", shared by its two files: cmd_backup_disk.c (the
 * command: escrowed key, backup engine, proof, commit, report) and
 * backup_disk_snap.c (the snapshot side: tracking target, freeze, view,
 * LUKS header at the snapshot).  Each step prints its own failure and
 * returns an exit code (cmd.h), 0 on success.
 */
#include <stddef.h>
#include <stdint.h>

#include "sys/disk_state.h"
#include "sys/luks_meta.h"
#include "sys/origin.h"
#include "vault/vault_backup.h"
#include "vault/vault_disk.h"
#include "vault/vault_job.h"

/* The header area is stored in the image and in an escrow slot. */
#define HEADER_MAX ESCROW_DATA_MAX

struct bk {
	struct disk_state d;
	const char *kek;
	int64_t retain_until;
	int full, json;
	uint64_t cow_size;		/* 0: the disk's configured size */
	struct vault *v;
	uint8_t *key;			/* escrowed passphrase/keyfile, secmem */
	size_t key_len;
	struct origin_status st;	/* right after the snapshot */
	char view[140], view_path[160];
	int view_fd, cow_fd, snap, incremental;
	int cow_watch;			/* cow_check() on the COW file */
	int lock_fd;			/* the disk's host lock (sys/disk_lock.h) */
	char reason[160];		/* why this is a full backup */
	uint8_t *header;		/* header area at the snapshot */
	size_t header_len;
	struct luks_meta meta;
	struct vault_backup *vb;
	struct vault_job *job;		/* its record in jobs/; NULL if none */
	/* The engine reads these until finish: they live as long as vb. */
	struct vault_escrow_in esc[2];
	struct vault_backup_opts opts;
	uint64_t bytes_read, chunks_read;
	uint64_t needed;		/* chunks the snapshot kept for us */
	uint64_t cow_used;		/* COW chunks used when done reading */
	uint64_t released_to;		/* bytes [0, released_to) handed back */
	uint64_t read_to;		/* bytes [0, read_to) read or not needed */
	double released_at;		/* when the last release was sent */
	unsigned releases;		/* release messages sent */
	double freeze_ms, secs;
	char point[POINT_ID_MAX];
};

/* Tracking must be running; after a reboot the target is re-stacked. */
int bk_ensure_origin(struct bk *b);
/* COW store, pre-freeze hook, suspend, snapshot, resume, post-thaw hook. */
int bk_freeze_and_snap(struct bk *b);
/* The read-only view of the snapshot, opened as b->view_fd. */
int bk_open_view(struct bk *b);
/* The LUKS header area at the snapshot into b->header, parsed into b->meta. */
int bk_read_header(struct bk *b);
/* After the last read of the view: the COW file lost no write at
 * writeback (cow_check). */
int bk_cow_check(struct bk *b);
/* Incremental or full (b->reason says why). */
void bk_decide_mode(struct bk *b);
/* After a failure touching the snapshot: 1 (and says so) when the kernel
 * invalidated it. */
int bk_snapshot_invalid(struct bk *b);

#endif
