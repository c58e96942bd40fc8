/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_TRACK_MAP_H
#define CRYPTSNAP_TRACK_MAP_H

/*
 * The change map of a protected disk saved across a clean shutdown:
 * <state dir>/disks/<name>.map (0600).  "cryptsnap shutdown" writes it
 * after the dm-crypt mapping is closed and the origin suspended;
 * "cryptsnap boot" takes it (reads and unlinks it, so it is used at most
 * once) and replays it into a fresh origin only when nothing can have
 * written the disk in between (track_map_check).  Any doubt means a full
 * scan, with the reason.
 *
 * Little-endian file layout: "CSNPMAP1", u32 version, u32 chunk sectors,
 * u64 size, char luks_uuid[40], char gen_uuid[40], u64 counter, u64 base,
 * char boot_id[40], i64 boot time, i64 saved, u64 writes, u64 discards,
 * u64 n, n x (u64 start, u64 len) in chunks, then SHA-256 of all before.
 * The checksum catches damage, not forgery: whoever can write the state
 * directory (root, 0700) can also write the disk.
 *
 * Test hooks (documented in docs/testing.md): CRYPTSNAP_BOOT_ID_FILE
 * replaces /proc/sys/kernel/random/boot_id and CRYPTSNAP_PROC_STAT
 * replaces /proc/stat (its "btime" line), so a test can play a reboot.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRACK_MAP_VERSION	1U

/* What the host says now: this boot and the backing device's counters. */
struct track_env {
	char boot_id[40];
	int64_t btime;		/* this boot started, seconds since the epoch */
	int64_t now;
	uint64_t writes;	/* completed write requests (/sys/.../stat) */
	uint64_t discards;	/* completed discard requests */
};

struct track_map {
	uint32_t chunk_sectors;
	uint64_t size;		/* backing device, bytes */
	char luks_uuid[40];
	char gen_uuid[40];	/* the generation saved (status fields 3..5) */
	uint64_t counter, base;
	struct track_env env;	/* at save time */
	uint64_t n;		/* extents */
	uint64_t *ext;		/* 2 * n: start, len (chunks); malloc'ed */
};

/* The disk as it is now, to compare the map against. */
struct track_disk {
	const char *luks_uuid;
	uint64_t size;
	uint32_t chunk_sectors;
};

void track_map_free(struct track_map *m);
/* Appends one extent (ascending, as the kernel pages them). */
int track_map_add(struct track_map *m, uint64_t start, uint64_t len);

/* Serialise; *buf is malloc'ed. */
int track_map_encode(const struct track_map *m, uint8_t **buf, size_t *len);
/*
 * Parse and verify a file's bytes: -EBADMSG bad magic or checksum,
 * -EPROTONOSUPPORT other version, -EUCLEAN bad structure or extents
 * (empty, overlapping, unsorted, beyond the device), -E2BIG an extent
 * count the file cannot hold.
 */
int track_map_decode(const uint8_t *buf, size_t len, struct track_map *m);

/*
 * May the map be replayed now?  0 if so; else -ESTALE with *why set to
 * a one-line reason (static text or written into why_buf).
 */
int track_map_check(const struct track_map *m, const struct track_disk *d,
		    const struct track_env *now, char *why_buf, size_t len);

/* The host facts for the backing device dev. */
int track_env_read(dev_t dev, struct track_env *e);

/* <state dir>/disks/<name>.map, written atomically (0600). */
int track_map_save(const char *name, const struct track_map *m);
/* Read and remove the file: -ENOENT when there is none. */
int track_map_take(const char *name, uint8_t **buf, size_t *len);

#endif
