// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap backup DISK: a recovery point of a protected disk, read from
 * a kernel snapshot while the VM keeps writing.
 *
 * Order of events, and why:
 *  1. The escrowed key must open the disk's current header, or we stop:
 *     a point is never stored without key material that opens it.
 *  2. Freeze (suspend the dm-crypt mapping: the filesystem is frozen and
 *     flushed), take the snapshot, resume.  Milliseconds.
 *  3. Read the LUKS header area from the snapshot view, every time:
 *     cryptsetup writes it below the target (luksChangeKey, luksAddKey,
 *     config, luksHeaderRestore, reencryption), so the change map never
 *     sees those writes.  Its layout fingerprint (luks_meta.h) decides
 *     whether the unchanged chunks can still come from the last point;
 *     if the data layout or volume key changed, this is a full scan.
 *  4. Copy the header chunks and the changed chunks (or all of them).
 *  5. Seal the point (packs, index, escrow slots; nothing visible yet),
 *     read its header area back through the restore engine, and prove
 *     that the escrowed key, as sealed, opens those stored bytes and that
 *     the escrowed header slot is the same bytes.  Only then publish the
 *     manifest and commit the tracking handover.  Any failure before
 *     aborts the handover, so the next backup copies those chunks again.
 *  6. Always: remove the view, drop the snapshot (its COW store vanishes
 *     with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "cli/backup_disk.h"
#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/disk_lock.h"
#include "sys/dm.h"
#include "sys/luks.h"
#include "vault/backup_feed.h"

static int parse(int argc, char **argv, struct bk *b)
{
	static const struct option opts[] = {
		{ "retain-until", required_argument, NULL, 'r' },
		{ "kek", required_argument, NULL, 'k' },
		{ "full", no_argument, NULL, 'f' },
		{ "cow-size", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *disk = argv[1];
	int c, r;

	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_date(optarg, &b->retain_until) < 0)
				return fail_errno("backup", 0, "bad date '%s'", optarg), EXIT_USAGE;
			break;
		case 'k': b->kek = optarg; break;
		case 'f': b->full = 1; break;
		case 'c':
			if (cli_size("backup", "--cow-size", optarg, COW_SIZE_MIN, COW_SIZE_MAX,
				     &b->cow_size))
				return EXIT_USAGE;
			break;
		case 'j': b->json = 1; break;
		default:
			fprintf(c == 'h' ? stdout : stderr,
				"usage: cryptsnap backup DISK [--retain-until DATE] [--full] [--cow-size SIZE]\n"
				"                             [--kek FILE] [--json]\n"
				"  --cow-size SIZE  COW store for this backup (default: the one set at protect)\n");
			return c == 'h' ? -1 : EXIT_USAGE;
		}
	}
	if (optind != argc)
		return fail_errno("backup", 0, "unexpected argument '%s'", argv[optind]), EXIT_USAGE;
	r = disk_state_load(disk, &b->d);
	if (r)
		return fail_errno("backup", r, "unknown disk '%s' (not protected here)", disk);
	snprintf(b->view, sizeof(b->view), "cryptsnap-view-%s", b->d.name);
	return EXIT_OK;
}

/* Under the lock, the state as the last holder left it (unprotect may
 * have removed it meanwhile). */
static int locked_state(struct bk *b)
{
	char name[sizeof(b->d.name)];
	int r;

	memcpy(name, b->d.name, sizeof(name));
	r = disk_state_load(name, &b->d);
	if (r)
		return fail_errno("backup", r, "unknown disk '%s' (not protected here)", name);
	return EXIT_OK;
}

static int escrowed_key(struct bk *b)
{
	struct vault_disk_rec rec;
	struct luks_info li;
	int r;

	/* Device names are not stable across reboots; the LUKS UUID is. */
	r = luks_identify(b->d.backing, &li);
	if (r && r != -ENODEV)	/* an I/O error is not a missing header */
		return fail_errno("backup", r, "cannot read the LUKS header of disk %s on %s",
				  b->d.name, b->d.backing);
	if (r || strcmp(li.uuid, b->d.luks_uuid))
		return fail_errno("backup", 0, "%s no longer carries the LUKS header %s of disk %s",
				  b->d.backing, b->d.luks_uuid, b->d.name);
	r = vault_disk_get(b->v, b->d.name, &rec, &b->key, &b->key_len);
	/* Only a missing record is "no key": an admin told so escrows again,
	 * which does not help when the vault cannot be read. */
	if (r == -ENOENT)
		return fail("backup", r, "no escrowed key for disk %s in the vault", b->d.name);
	if (r == -EBADMSG || r == -EUCLEAN)
		return fail("backup", r, "the escrowed key record of disk %s in the vault is damaged",
			    b->d.name);
	if (r)
		return fail("backup", r, "cannot read the escrowed key of disk %s from the vault",
			    b->d.name);
	if (luks_check_key(b->d.backing, b->key, b->key_len) < 0)
		return fail_errno("backup", 0, "the escrowed key of %s no longer opens its LUKS header "
				"(passphrase changed?); escrow the new one with "
				"'cryptsnap key escrow %s'", b->d.name, b->d.name), EXIT_KEY;
	return 0;
}

static int begin(struct bk *b)
{
	struct vault_escrow_in *esc = b->esc;
	struct vault_backup_opts *o = &b->opts;
	char num[32], hex[LUKS_META_HASH_HEX];
	int r;

	esc[0] = (struct vault_escrow_in){ .name = "luks-header", .kind = ESCROW_IMAGE,
					   .data = b->header, .len = b->header_len };
	esc[1] = (struct vault_escrow_in){ .name = "key", .kind = ESCROW_KEK,
					   .data = b->key, .len = b->key_len };
	*o = (struct vault_backup_opts){
		.disk = b->d.name, .image_size = b->d.size,
		.base_point = b->incremental ? b->d.last_point : NULL,
		.retain_until = b->retain_until, .escrow = esc, .nescrow = 2,
	};

	r = vault_backup_begin(b->v, o, &b->vb);
	if ((r == -ENOENT || r == -ESTALE) && b->incremental) {
		/* The base point was pruned, or lost data with a pack. */
		snprintf(b->reason, sizeof(b->reason), r == -ENOENT ? "base point %s is gone" :
			 "base point %s needs chunks of missing packs", b->d.last_point);
		b->incremental = 0;
		o->base_point = NULL;
		r = vault_backup_begin(b->v, o, &b->vb);
	}
	if (r == -EBUSY)
		return cli_vault_busy("backup", b->v, VAULT_LOCK_SHARED, "cannot start the backup");
	if (r)
		return fail("backup", r, "cannot start the backup");
	snprintf(num, sizeof(num), "%" PRIu64, b->st.counter);
	vault_backup_set_meta(b->vb, "tracking_uuid", b->st.uuid);
	vault_backup_set_meta(b->vb, "tracking_counter", num);
	vault_backup_set_meta(b->vb, "mode", b->incremental ? "incremental" : "full");
	vault_backup_set_meta(b->vb, "luks_uuid", b->d.luks_uuid);
	luks_meta_hex(b->meta.layout, hex);
	vault_backup_set_meta(b->vb, "luks_layout", hex);
	luks_meta_hex(b->meta.header, hex);
	vault_backup_set_meta(b->vb, "luks_header_sha256", hex);
	snprintf(num, sizeof(num), "%" PRIu64, b->meta.seqid);
	vault_backup_set_meta(b->vb, "luks_seqid", num);
	snprintf(num, sizeof(num), "%zu", b->header_len);
	vault_backup_set_meta(b->vb, "luks_header_bytes", num);
	return 0;
}

/*
 * Ranges in the engine's buffers need not be kept by the kernel any more,
 * so later writes to them are not copied (cryptsnap-dm.h, release).  One
 * message per read batch costs an ioctl each; a backup of scattered
 * changes would send one per changed chunk.  Reads go front to back (the
 * header, then changes in ascending order, or every chunk), and every
 * chunk below the highest byte read is either read or was never needed,
 * so one growing range [released_to, read_to) covers them all: it is sent
 * once it spans RELEASE_BATCH bytes or RELEASE_EVERY seconds have passed,
 * and once more when reading is done.  Holding a release back only costs
 * copies, never correctness.
 *
 * A release is also the backup's check that its snapshot is still good:
 * the kernel refuses it (EIO) once the snapshot turned invalid, and the
 * backup stops there (within RELEASE_EVERY or RELEASE_BATCH of it);
 * copy_chunks() says why.
 */
#define RELEASE_BATCH	(32ULL << 20)
#define RELEASE_EVERY	0.25

static int release_flush(struct bk *b)
{
	uint64_t from = b->released_to, to = b->read_to;
	int r;

	if (to <= from)
		return 0;
	r = origin_release(b->d.origin, from >> 9, (to - from + 511) >> 9);
	b->releases++;
	b->released_to = to;
	b->released_at = now_seconds();
	return r;	/* -EIO: invalid, copy_chunks() says so */
}

static int release_read(uint64_t off, uint64_t len, void *arg)
{
	struct bk *b = arg;

	if (off + len > b->read_to)
		b->read_to = off + len;
	if (b->read_to - b->released_to < RELEASE_BATCH &&
	    now_seconds() - b->released_at < RELEASE_EVERY)
		return 0;
	return release_flush(b);
}

static int feed_extent(uint64_t start, uint64_t len, void *arg)
{
	struct bk *b = arg;
	struct feed_hook hook = { .read_done = release_read, .arg = b };

	b->chunks_read += len;
	return feed_range(b->vb, b->view_fd, b->d.size, b->d.chunk_sectors << 9,
			  start, len, &b->bytes_read, &hook);
}

static uint64_t header_chunks(const struct bk *b)
{
	uint32_t cs = b->d.chunk_sectors << 9;

	return (b->header_len + cs - 1) / cs;
}

/* Changed extents, minus the header chunks already fed. */
static int feed_change(uint64_t start, uint64_t len, void *arg)
{
	uint64_t h = header_chunks(arg);

	if (start + len <= h)
		return 0;
	if (start < h) {
		len -= h - start;
		start = h;
	}
	return feed_extent(start, len, arg);
}

static int copy_chunks(struct bk *b)
{
	uint32_t cs = b->d.chunk_sectors << 9;
	uint64_t nchunks = (b->d.size + cs - 1) / cs, total;
	struct origin_status st;
	struct monitor mon;
	int r = 0;

	if (b->incremental) {
		/* Only the change set and the header are needed from here on. */
		r = origin_release_unchanged(b->d.origin, (header_chunks(b) * cs) >> 9);
		if (!r && !origin_status(b->d.origin, &st))
			b->needed = st.needed;
	} else {
		b->needed = nchunks;
	}
	/* The bar and the job record count what is read: every needed chunk
	 * (the change set and the header, or all of them). */
	total = MIN(b->needed * cs, b->d.size);
	if (b->job)
		b->job->total = total;
	monitor_start(&mon, b->job, vault_backup_progress(b->vb), total, "backup");
	if (!r && b->incremental) {
		r = feed_extent(0, header_chunks(b), b);
		if (!r)
			r = origin_changes(b->d.origin, nchunks, feed_change, b);
	} else if (!r) {
		r = feed_extent(0, nchunks, b);
	}
	monitor_stop(&mon);
	if (!r)
		r = release_flush(b);
	backup_trace_phase("read chunks");
	if (!origin_status(b->d.origin, &st))
		b->cow_used = st.cow_used;
	/* Reads that raced an invalidation may have succeeded: check after. */
	if (bk_snapshot_invalid(b))
		return EXIT_FAIL;
	if (r)
		return fail_errno("backup", r, "cannot read the snapshot of %s", b->d.name);
	if (bk_cow_check(b))
		return EXIT_FAIL;
	r = vault_backup_seal(b->vb);
	return r ? fail("backup", r, "cannot store the recovery point") : 0;
}

/* libcryptsetup reads a detached header from a file: a fresh 0600 one. */
static int header_file(struct bk *b, const uint8_t *hdr, size_t len, char *file,
		       size_t flen)
{
	char dir[DISK_PATH_MAX];
	int fd, r;

	snprintf(dir, sizeof(dir), "%s/tmp", disk_state_dir());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(file, flen, "%s/%s.hdr", dir, b->d.name);
	unlink(file);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = write_full(fd, hdr, len);
	close(fd);
	return r;
}

/*
 * The guarantee of the product, checked on what a restore will see.  The
 * "luks-header" slot is opened as restore opens it: its bytes come from
 * the stored image through the restore engine and a freshly loaded index,
 * checked against the hash the slot records.  They must be the header
 * area read at the snapshot, and the "key" slot, as sealed, must open
 * them.  Nothing here reads the live device.
 */
static int prove_stored(struct bk *b)
{
	char file[DISK_PATH_MAX + 80] = "";
	uint8_t *slot = NULL, *key = NULL;
	size_t slot_len = 0, key_len = 0;
	int r, keyok = 0;

	r = vault_backup_open_escrow(b->vb, "luks-header", &slot, &slot_len);
	if (!r && (slot_len != b->header_len || memcmp(slot, b->header, slot_len)))
		r = -EIO;
	if (!r)
		r = header_file(b, slot, slot_len, file, sizeof(file));
	if (!r)
		r = vault_backup_open_escrow(b->vb, "key", &key, &key_len);
	if (!r)
		keyok = luks_check_key(file, key, key_len) >= 0;
	if (file[0])
		unlink(file);
	secmem_free(slot);
	secmem_free(key);
	if (r)
		return fail_errno("backup", r, "the header stored in the point of %s does not read "
				  "back as it was read; point not committed", b->d.name);
	if (!keyok)
		return fail_errno("backup", 0, "the escrowed key of %s does not open the LUKS header "
				  "at the snapshot (passphrase changed during the backup?); point not "
				  "committed; escrow the current key with 'cryptsnap key escrow %s' "
				  "and back up again", b->d.name, b->d.name), EXIT_KEY;
	return 0;
}

/* The point is stored: hand tracking over and remember the point. */
static int commit(struct bk *b)
{
	int r = vault_backup_commit(b->vb, b->point);

	backup_trace(b->vb);
	if (r)
		return fail("backup", r, "cannot store the recovery point");
	r = origin_commit(b->d.origin);

	if (r) {
		fprintf(stderr, "cryptsnap backup: point %s stored, but the tracking handover "
			"failed (%s); the next backup copies these chunks again\n",
			b->point, strerror(-r));
		return 0;
	}
	snprintf(b->d.last_point, sizeof(b->d.last_point), "%s", b->point);
	snprintf(b->d.last_uuid, sizeof(b->d.last_uuid), "%s", b->st.uuid);
	b->d.last_counter = b->st.counter;
	luks_meta_hex(b->meta.layout, b->d.last_layout);
	r = disk_state_save(&b->d);
	if (r)
		fprintf(stderr, "cryptsnap backup: point %s stored, but the state could not be "
			"saved (%s); the next backup is a full one\n", b->point, strerror(-r));
	return 0;
}

static void teardown(struct bk *b)
{
	if (b->view_fd >= 0)
		close(b->view_fd);
	if (b->view[0] && csdm_exists(b->view))
		csdm_remove(b->view);
	if (b->snap) {
		if (!b->point[0])
			origin_abort(b->d.origin);
		origin_snap_drop(b->d.origin);
	}
	if (b->cow_fd >= 0)
		close(b->cow_fd);
	if (b->cow_watch >= 0)
		close(b->cow_watch);
	if (b->vb)
		vault_backup_free(b->vb);
	free(b->header);
	secmem_free(b->key);
}

static void report(const struct bk *b)
{
	struct vault_backup_stats st;
	char rd[32], nw[32];

	vault_backup_stats(b->vb, &st);
	if (b->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "point", json_object_new_string(b->point));
		json_object_object_add(o, "disk", json_object_new_string(b->d.name));
		json_object_object_add(o, "mode", json_object_new_string(b->incremental ? "incremental" : "full"));
		json_object_object_add(o, "reason", json_object_new_string(b->reason));
		json_object_object_add(o, "chunks_read", json_object_new_uint64(b->chunks_read));
		json_object_object_add(o, "bytes_read", json_object_new_uint64(b->bytes_read));
		json_object_object_add(o, "bytes_new", json_object_new_uint64(st.bytes_new));
		json_object_object_add(o, "chunks_needed", json_object_new_uint64(b->needed));
		json_object_object_add(o, "cow_chunks_used", json_object_new_uint64(b->cow_used));
		json_object_object_add(o, "freeze_ms", json_object_new_double(b->freeze_ms));
		json_object_object_add(o, "seconds", json_object_new_double(b->secs));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return;
	}
	format_bytes(b->bytes_read, rd, sizeof(rd));
	format_bytes(st.bytes_new, nw, sizeof(nw));
	printf("point %s\n", b->point);
	if (b->incremental)
		printf("disk %s: incremental, %" PRIu64 " changed chunks read (%s), %s new, "
		       "freeze %.1f ms, %.1f s\n", b->d.name, b->chunks_read, rd, nw,
		       b->freeze_ms, b->secs);
	else
		printf("disk %s: full scan (%s), %s read, %s new, freeze %.1f ms, %.1f s\n",
		       b->d.name, b->reason, rd, nw, b->freeze_ms, b->secs);
}

/* The job record and its log line: the point, or the exit code (each
 * step printed why it failed). */
static void finish_job(struct bk *b, int r)
{
	char msg[64];

	if (!b->job)
		return;
	snprintf(b->job->point, sizeof(b->job->point), "%s", b->point);
	b->job->exit = r;
	snprintf(msg, sizeof(msg), "exit status %d", r);
	job_finish(b->job, r ? -EIO : 0, r ? msg : NULL);
	b->job = NULL;
}

int cmd_backup_disk(int argc, char **argv)
{
	struct bk b = { .view_fd = -1, .cow_fd = -1, .cow_watch = -1, .lock_fd = -1 };
	double t0 = now_seconds();
	int r;

	r = parse(argc, argv, &b);
	if (r)
		return r < 0 ? EXIT_OK : r;
	backup_trace_phase("start");
	/* First, before any device or kernel work: a second run would take
	 * the first one's snapshot for an interrupted run's and drop it. */
	r = cli_disk_lock("backup", b.d.name, &b.lock_fd);
	if (r)
		return r;
	r = locked_state(&b);
	if (!r)
		r = cli_vault("backup", b.d.vault, 1, b.kek ? b.kek : b.d.kek[0] ? b.d.kek : NULL, &b.v);
	if (r) {
		disk_unlock(b.lock_fd);
		return r;
	}
	r = cli_catalogue_ensure("backup", b.v);
	if (r)
		goto out;
	if (b.v->chunk_size != b.d.chunk_sectors << 9) {
		r = fail_errno("backup", 0, "vault chunk size %u differs from the tracking chunk %u",
			     b.v->chunk_size, b.d.chunk_sectors << 9);
		goto out;
	}
	job_start(b.v, "backup", b.d.name, b.d.size, &b.job);
	backup_trace_phase("vault open+unlock");
	r = escrowed_key(&b);
	backup_trace_phase("escrowed key check");
	if (!r)
		r = bk_ensure_origin(&b);
	if (!r)
		r = bk_freeze_and_snap(&b);
	backup_trace_phase("freeze+snapshot");
	if (!r)
		r = bk_open_view(&b);
	if (!r)
		r = bk_read_header(&b);
	backup_trace_phase("view+header read");
	if (!r) {
		bk_decide_mode(&b);
		if (!b.incremental) {
			fprintf(stderr, "cryptsnap backup: %s: full scan: %s\n", b.d.name, b.reason);
			log_event(LOG_NOTICE, "backup full scan: disk=%s job=%s reason=%s", b.d.name,
				  b.job ? b.job->id : "-", b.reason);
		}
		r = begin(&b);
	}
	backup_trace_phase("engine begin");
	if (!r)
		r = copy_chunks(&b);
	backup_trace_phase("seal");
	if (!r)
		r = prove_stored(&b);
	backup_trace_phase("prove stored");
	if (!r)
		r = commit(&b);
	backup_trace_phase("commit");
	b.secs = now_seconds() - t0;
	if (!r)
		report(&b);
out:
	finish_job(&b, r);
	teardown(&b);
	backup_trace_phase("teardown");
	if (getenv("CRYPTSNAP_BACKUP_TRACE"))
		fprintf(stderr, "backup trace: %u release messages\n", b.releases);
	vault_close(b.v);
	disk_unlock(b.lock_fd);
	return r;
}
