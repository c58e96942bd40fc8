/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Interface between dm-cryptsnap.ko and the cryptsnap tool: target names,
 * table grammar limits, message verbs and status field order.  Shared by
 * the kernel module and userspace; keep it free of kernel-only and
 * libc-only types.
 *
 * Two target types:
 *
 *   cryptsnap       <backing dev> <chunk sectors> [<#features> <feature>...]
 *                   The origin: a 1:1 map of the whole backing device that
 *                   tracks changed chunks and, while a snapshot exists,
 *                   copies a chunk's old contents to the COW device before
 *                   the first write or discard to it.
 *
 *   cryptsnap-view  <origin dev>
 *                   Read-only image of the origin's current snapshot.
 *                   <origin dev> is the cryptsnap device itself (path or
 *                   major:minor), not its backing device.  The view binds
 *                   to the snapshot that exists when its table is loaded;
 *                   once that snapshot is invalid or dropped every read
 *                   fails with EIO.
 */
#ifndef CRYPTSNAP_DM_H
#define CRYPTSNAP_DM_H

#define CRYPTSNAP_TARGET_NAME		"cryptsnap"
#define CRYPTSNAP_VIEW_TARGET_NAME	"cryptsnap-view"
#define CRYPTSNAP_VERSION_MAJOR		1
#define CRYPTSNAP_VERSION_MINOR		3
#define CRYPTSNAP_VERSION_PATCH		0

/* Chunk size, in 512-byte sectors: a power of two in [8, 16384] (4 KiB .. 8 MiB). */
#define CRYPTSNAP_CHUNK_SECTORS_MIN	8U
#define CRYPTSNAP_CHUNK_SECTORS_MAX	16384U
#define CRYPTSNAP_CHUNK_SECTORS_DEFAULT	128U	/* 64 KiB */

/*
 * Most chunks one device may have: 2^32 (16 TiB at 4 KiB chunks, 256 TiB
 * at 64 KiB).  One bit per chunk, so each change map is at most 512 MiB.
 */
#define CRYPTSNAP_MAX_CHUNKS		(1ULL << 32)

/* Maximum number of optional feature arguments in a table line. */
#define CRYPTSNAP_MAX_FEATURE_ARGS	8U

/*
 * Messages to the cryptsnap (origin) target, "dmsetup message <dev> 0 ...".
 * Errors: EINVAL bad verb/argument count/number/range, EBUSY wrong state
 * (snapshot exists / none exists / change set already resolved), EIO
 * commit of an invalid snapshot, ENOSPC COW device smaller than a chunk,
 * ENOMEM.  A failed message changes nothing.
 *
 *   snap_take <cow dev> [<cow chunk sectors>]
 *	Take a snapshot.  The caller must have suspended every writer above
 *	(the dm-crypt device) so no write is in flight: refused (EBUSY) while
 *	any write to the origin is in flight, and while a table with another
 *	geometry is loaded for the device.  Freezes the changes
 *	tracked so far as the snapshot's change set and starts a fresh map;
 *	bumps the generation counter.  <cow dev> (path or major:minor) is
 *	opened exclusively; its previous contents are ignored.  The COW
 *	granularity defaults to the tracking chunk size; a larger one (power
 *	of two, same limits) means fewer, larger copies.
 *   snap_drop
 *	Forget the snapshot and release the COW device (once no view uses it).
 *	An unresolved change set is aborted (merged back) first.
 *   changes <start chunk> [<max extents>]
 *	Read the frozen change set from <start chunk> (0 .. chunks).  Output:
 *	    <next chunk> <n extents> <start>:<len>[,<start>:<len>...]
 *	with "-" for an empty list.  Extents are in chunks, ascending.  Call
 *	again with <next chunk> until it equals the number of chunks.  A page
 *	holds at most <max extents> (default and limit
 *	CRYPTSNAP_MSG_MAX_EXTENTS) and always fits the ioctl buffer.
 *   commit
 *	The backup of the change set is stored: clear the set; the base
 *	generation becomes the snapshot's.  Refused (EIO) if the snapshot is
 *	invalid, since its image could not be read completely.
 *   release <start sector> <sectors>
 *	The backup no longer needs the snapshot chunks that lie wholly
 *	inside the range (it has read them, or never needed them).  Origin
 *	writes to them go straight through from now on, with no copy, and
 *	view reads of them fail with EIO (logged, rate-limited).  Refused
 *	(EBUSY) when a view read of the range is in flight, EIO when the
 *	snapshot is invalid.  Releasing a released chunk is a no-op.
 *   release_unchanged <keep sectors>
 *	An incremental backup: release every chunk outside the frozen change
 *	set, except the first <keep sectors> (the LUKS header area).  Refused
 *	(EBUSY) while any view read is in flight.  A new snapshot needs every
 *	chunk until told otherwise, so a tool that never releases gets the
 *	always-copy behaviour.
 *   abort
 *	The backup failed: merge the change set back into the live map.
 *   reset
 *	Only without a snapshot: forget all tracking, new generation uuid,
 *	counter and base 0.  The next backup must be a full one.
 *   cow_timeout <seconds>
 *	How long a COW write may take (CRYPTSNAP_COW_TIMEOUT_MIN ..
 *	CRYPTSNAP_COW_TIMEOUT_MAX, default CRYPTSNAP_COW_TIMEOUT_DEFAULT)
 *	before the snapshot turns invalid:cow_timeout and every write it
 *	held goes on to the origin.  Applies to the current snapshot at
 *	once and to later ones; kept across table reloads of the same
 *	geometry, not across re-creation.
 *   mem_limit <bytes>
 *	Kernel memory a snapshot may allocate while it runs, for its index
 *	of copied runs (about 100 bytes a run, at most one run per COW
 *	chunk): 0 (the default) means CRYPTSNAP_MEM_LIMIT_DEFAULT or 1/16
 *	of RAM, whichever is smaller; else CRYPTSNAP_MEM_LIMIT_MIN ..
 *	CRYPTSNAP_MEM_LIMIT_MAX.  Spent, the snapshot turns invalid:memory
 *	and the VM's writes go on uncopied.  Applies to the current
 *	snapshot at once and to later ones.
 *
 * Saving the tracking across a reboot (since 1.3):
 *
 *   live_changes <start chunk> [<max extents>]
 *	Read the live map, in the format and paging of "changes".  Refused
 *	(EBUSY) unless the device is suspended and has no snapshot, so the
 *	map read is final.  Status fields 3..5 give the generation to save
 *	with it.
 *   adopt <uuid> <counter> <base>
 *	Continue a saved generation: set the generation uuid, counter and
 *	base (base <= counter).  Only on a fresh tracker (EBUSY otherwise):
 *	no snapshot, counter and base 0, no chunk marked.
 *   merge <start>:<len>[,<start>:<len>...]
 *	Mark the chunks of up to CRYPTSNAP_MSG_MAX_EXTENTS extents changed
 *	in the live map (the saved map, replayed after adopt).  Extents are
 *	non-empty and inside the device; the whole list is checked first.
 *	Refused (EBUSY) while a snapshot exists.
 */
#define CRYPTSNAP_MSG_SNAP_TAKE		"snap_take"
#define CRYPTSNAP_MSG_COW_TIMEOUT	"cow_timeout"
#define CRYPTSNAP_MSG_MEM_LIMIT		"mem_limit"
#define CRYPTSNAP_MSG_SNAP_DROP		"snap_drop"
#define CRYPTSNAP_MSG_CHANGES		"changes"
#define CRYPTSNAP_MSG_COMMIT		"commit"
#define CRYPTSNAP_MSG_ABORT		"abort"
#define CRYPTSNAP_MSG_RESET		"reset"
#define CRYPTSNAP_MSG_RELEASE		"release"
#define CRYPTSNAP_MSG_RELEASE_UNCHANGED	"release_unchanged"
#define CRYPTSNAP_MSG_LIVE_CHANGES	"live_changes"
#define CRYPTSNAP_MSG_ADOPT		"adopt"
#define CRYPTSNAP_MSG_MERGE		"merge"

#define CRYPTSNAP_MSG_MAX_EXTENTS	4096U

#define CRYPTSNAP_COW_TIMEOUT_DEFAULT	30U	/* seconds */
#define CRYPTSNAP_COW_TIMEOUT_MIN	1U
#define CRYPTSNAP_COW_TIMEOUT_MAX	3600U

#define CRYPTSNAP_MEM_LIMIT_DEFAULT	(64ULL << 20)
#define CRYPTSNAP_MEM_LIMIT_MIN		4096ULL
#define CRYPTSNAP_MEM_LIMIT_MAX		(1ULL << 40)

/*
 * Status (STATUSTYPE_INFO) of the cryptsnap target, space separated, in
 * this order (0-based field index):
 *
 *   0  chunk sectors
 *   1  chunks
 *   2  changed chunks in the live map (since the snapshot, or since base)
 *   3  generation uuid (random per target instance; new after reset)
 *   4  generation counter: number of the latest snapshot (0 = none yet)
 *   5  base: counter of the last committed snapshot (0 = since creation).
 *      Live map + change set = every chunk changed since snapshot <base>.
 *   6  snapshot state: none | active | invalid:<reason>
 *   7  COW chunks used (in the snapshot's COW chunks)
 *   8  COW chunks total
 *   9  chunks in the frozen change set
 *  10  change set state: none | pending | committed | aborted
 *  11  snapshot chunks the backup still needs (0 without a snapshot);
 *      the COW store never holds more chunks than were needed
 *
 * Incremental backup rule for userspace: after snap_take, if the uuid
 * equals the one stored with the last recovery point and base equals
 * that point's counter, the change set is exactly the chunks changed
 * since that point.  Otherwise back up everything.
 */
#define CRYPTSNAP_STATUS_CHUNK_SECTORS	0
#define CRYPTSNAP_STATUS_CHUNKS		1
#define CRYPTSNAP_STATUS_CHANGED	2
#define CRYPTSNAP_STATUS_GEN_UUID	3
#define CRYPTSNAP_STATUS_GEN_COUNTER	4
#define CRYPTSNAP_STATUS_BASE		5
#define CRYPTSNAP_STATUS_SNAP_STATE	6
#define CRYPTSNAP_STATUS_COW_USED	7
#define CRYPTSNAP_STATUS_COW_TOTAL	8
#define CRYPTSNAP_STATUS_FROZEN		9
#define CRYPTSNAP_STATUS_SET_STATE	10
#define CRYPTSNAP_STATUS_NEEDED		11
#define CRYPTSNAP_STATUS_NR_FIELDS	12

/* Snapshot states and invalidation reasons as printed in status. */
#define CRYPTSNAP_SNAP_NONE		"none"
#define CRYPTSNAP_SNAP_ACTIVE		"active"
#define CRYPTSNAP_SNAP_INVALID		"invalid"	/* "invalid:<reason>" */
#define CRYPTSNAP_REASON_COW_FULL	"cow_full"
#define CRYPTSNAP_REASON_COW_IO		"cow_io_error"
#define CRYPTSNAP_REASON_ORIGIN_IO	"origin_read_error"
#define CRYPTSNAP_REASON_NOMEM		"nomem"
#define CRYPTSNAP_REASON_COW_TIMEOUT	"cow_timeout"	/* a COW write hung */
#define CRYPTSNAP_REASON_MEMORY		"memory"	/* memory budget spent */

#define CRYPTSNAP_SET_NONE		"none"
#define CRYPTSNAP_SET_PENDING		"pending"
#define CRYPTSNAP_SET_COMMITTED		"committed"
#define CRYPTSNAP_SET_ABORTED		"aborted"

/*
 * Status (STATUSTYPE_INFO) of a cryptsnap-view target:
 *   0  state: active | invalid:<reason> | dropped
 *   1  generation counter of the snapshot shown
 */
#define CRYPTSNAP_VIEW_STATUS_STATE	0
#define CRYPTSNAP_VIEW_STATUS_COUNTER	1
#define CRYPTSNAP_VIEW_DROPPED		"dropped"

#endif /* CRYPTSNAP_DM_H */
