// SPDX-License-Identifier: GPL-2.0
/* cryptsnap restore --vault VAULT --point ID --to PATH [--force] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "cli/restore_files.h"
#include "lib/crashpoint.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/luks.h"
#include "sys/protect.h"
#include "sys/source.h"
#include "vault/vault_escrow.h"
#include "vault/vault_index.h"
#include "vault/vault_points.h"
#include "vault/vault_restore.h"

struct restore_args {
	const char *vault, *point, *to, *kek, *escrow_dir;
	char default_vault[4096];
	int force, check_key;
	unsigned int threads;
	struct restore_files_args files;	/* --files: nfiles > 0 */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap restore [--vault VAULT] --point ID --to PATH [options]\n"
		"\n"
		"Writes recovery point ID to PATH (a file, created if missing, or a block\n"
		"device): the LUKS header and ciphertext as they were, never decrypted.\n"
		"Every chunk is authenticated before it is written.  A protected live\n"
		"disk is never overwritten.  --vault defaults to the vault of the\n"
		"protected disks when they all use one.\n"
		"  --check-key        prove the escrowed key opens the restored header\n"
		"  --force            overwrite a non-empty target\n"
		"  --escrow-dir DIR   write the point's escrow slots to DIR/<name> (0600)\n"
		"  --kek FILE         KEK file instead of the recorded one\n"
		"  --threads N        worker threads (default: one per CPU)\n"
		"  --files PATH...    copy these files (paths in the point's filesystem)\n"
		"                     to the directory PATH, with modes and times, from\n"
		"                     the point mounted in place (see cryptsnap mount)\n");
}

static int add_file(struct restore_files_args *f, const char *path)
{
	if (f->nfiles == RESTORE_FILES_MAX) {
		fprintf(stderr, "cryptsnap restore: at most %u --files\n", RESTORE_FILES_MAX);
		return -1;
	}
	f->files[f->nfiles++] = path;
	return 0;
}

static int parse(int argc, char **argv, struct restore_args *a)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "point", required_argument, NULL, 'p' },
		{ "to", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "check-key", no_argument, NULL, 'c' },
		{ "kek", required_argument, NULL, 'k' },
		{ "escrow-dir", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 'T' },
		{ "files", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->vault = optarg; break;
		case 'p': a->point = optarg; break;
		case 't': a->to = optarg; break;
		case 'f': a->force = 1; break;
		case 'c': a->check_key = 1; break;
		case 'k': a->kek = optarg; break;
		case 'e': a->escrow_dir = optarg; break;
		case 'T':
			if (cli_uint("restore", "--threads", optarg, 1, CLI_THREADS_MAX, &a->threads))
				return EXIT_USAGE;
			break;
		case 'F':
			if (add_file(&a->files, optarg))
				return EXIT_USAGE;
			break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	/* --files a b c: getopt moved b and c behind the options. */
	while (a->files.nfiles && optind < argc)
		if (add_file(&a->files, argv[optind++]))
			return EXIT_USAGE;
	if (!a->point || !a->to || optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!a->vault) {
		if (disk_default_vault(a->default_vault, sizeof(a->default_vault))) {
			fprintf(stderr, "cryptsnap restore: --vault is required\n");
			return EXIT_USAGE;
		}
		a->vault = a->default_vault;
	}
	return EXIT_OK;
}

/*
 * The escrow directory receives passphrases: it must be ours alone.  It
 * is created 0700 when missing; an existing one must be a real directory
 * (not a symlink), owned by us, with no group or other permission bits.
 * Checked on the opened directory, so nothing can be swapped in between.
 * Opened before the restore so that a refusal writes nothing at all.
 */
static int open_escrow_dir(const char *dir, const struct manifest *m, int *dfd)
{
	struct stat st;
	unsigned int i;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail_errno("restore", -errno, "cannot create --escrow-dir %s", dir);
	*dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return fail_errno("restore", 0, "--escrow-dir %s is not a directory (a symlink "
				  "or a file); refusing to write secrets through it", dir);
	if (*dfd < 0)
		return fail_errno("restore", -errno, "cannot open --escrow-dir %s", dir);
	if (fstat(*dfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(*dfd);
		*dfd = -1;
		return fail_errno("restore", 0, "--escrow-dir %s must be owned by uid %ld with "
				  "mode 0700 (it holds secrets); give a new directory", dir,
				  (long)geteuid());
	}
	for (i = 0; i < m->nescrow; i++)
		if (!fstatat(*dfd, m->escrow[i].name, &st, AT_SYMLINK_NOFOLLOW)) {
			close(*dfd);
			*dfd = -1;
			return fail_errno("restore", 0, "%s/%s already exists; refusing to "
					  "overwrite it (give a new --escrow-dir)", dir,
					  m->escrow[i].name);
		}
	return EXIT_OK;
}

/* Every slot as a new 0600 file: an existing file is never overwritten,
 * a symlink never followed. */
static int write_escrow(struct vault *v, struct bindex *bi, struct blob_ctx *c,
			const struct manifest *m, const char *dir, int dfd)
{
	unsigned int i;
	int r = 0;

	for (i = 0; i < m->nescrow; i++) {
		const char *name = m->escrow[i].name;
		uint8_t *data;
		size_t len;
		int fd;

		if (!escrow_name_valid(name))
			return fail("restore", -EUCLEAN, "escrow slot name in point %s", m->id);
		r = vault_restore_escrow(v, bi, c, m, &m->escrow[i], &data, &len);
		if (r < 0)
			return fail("restore", r, "escrow slot %s", name);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		r = fd < 0 ? -errno : write_full(fd, data, len);
		if (fd >= 0 && fsync(fd) < 0 && !r)
			r = -errno;
		if (fd >= 0)
			close(fd);
		vault_restore_escrow_free(&m->escrow[i], data, len);
		if (r == -EEXIST)
			return fail_errno("restore", 0, "%s/%s already exists; refusing to overwrite "
					  "it (give a new --escrow-dir)", dir, name);
		if (r < 0)
			return fail_errno("restore", r, "cannot write %s/%s", dir, name);
		printf("escrow %s -> %s/%s\n", name, dir, name);
	}
	if (fsync(dfd) < 0)
		return fail_errno("restore", -errno, "cannot sync %s", dir);
	return EXIT_OK;
}

/* The escrowed key must open the restored header; no plaintext is read. */
static int check_key(struct vault *v, struct blob_ctx *c, const struct manifest *m,
		     const char *to)
{
	uint8_t *key = NULL;
	size_t len = 0;
	unsigned int i;
	int r = -ENOKEY;

	for (i = 0; i < m->nescrow; i++)
		if (m->escrow[i].kind == ESCROW_KEK && !strcmp(m->escrow[i].name, "key"))
			r = escrow_open(v, c, m->id, &m->escrow[i], &key, &len);
	if (r == -ENOKEY)
		return fail("restore", r, "point %s has no escrowed key", m->id);
	if (r < 0)
		return fail("restore", r, "cannot open the escrowed key of point %s", m->id);
	r = luks_check_key(to, key, len);
	secmem_free(key);
	if (r < 0) {
		fprintf(stderr, "cryptsnap restore: the escrowed key does NOT open %s\n", to);
		return EXIT_KEY;
	}
	printf("escrowed key opens %s (keyslot %d)\n", to, r);
	return EXIT_OK;
}

static int report_damage(const char *id, const struct vault_restore_result *res, int r)
{
	fprintf(stderr, "cryptsnap restore: point %s is damaged at chunk %llu: %s\n", id,
		(unsigned long long)res->first_bad_chunk,
		strerror(-(res->first_err ? res->first_err : r)));
	return exit_code(r == -ENOENT || r == -ENODATA ? -EBADMSG : r);
}

/* Says how zero chunks reached a block device. */
static void report_zeros(const struct vault_restore_result *res)
{
	char a[32], b[32];

	if (!res->bytes_zeroout && !res->bytes_zero_written)
		return;
	format_bytes(res->bytes_zeroout, a, sizeof(a));
	format_bytes(res->bytes_zero_written, b, sizeof(b));
	printf("zero chunks: %s zeroed by the device (BLKZEROOUT), %s written as zeros\n",
	       a, b);
}

static int do_restore(struct restore_args *a, struct vault *v, const struct manifest *m,
		      struct bindex *bi)
{
	struct vault_restore_opts o = { .threads = a->threads };
	struct vault_restore_result res;
	struct vault_job *job = NULL;
	struct monitor mon;
	struct image img;
	int zeroed, created, r;

	r = image_open_target(a->to, m->image_size, a->force, &img, &zeroed, &created);
	if (r == -EEXIST)
		return fail("restore", r, "target %s is not empty (use --force)", a->to);
	if (r < 0)
		return fail("restore", r, "cannot open target %s", a->to);
	o.fd = img.fd;
	o.target_zeroed = zeroed;
	o.zero_blkdev = img.is_blockdev;
	job_start(v, "restore", m->id, m->image_size, &job);
	monitor_start(&mon, job, &res.bytes_done, m->image_size, "restore");
	r = vault_restore_run(v, bi, m, &o, &res);
	monitor_stop(&mon);
	if (!r && fsync(img.fd) < 0)
		r = -errno;
	if (!r)
		crashpoint("restore.synced");
	close(img.fd);
	job_finish(job, r, r ? strerror(-r) : NULL);
	if (!r)
		report_zeros(&res);
	if (r < 0) {
		/* Never leave a file that looks like a good restore. */
		if (created || zeroed)
			unlink(a->to);
		else
			fprintf(stderr, "cryptsnap restore: %s is INCOMPLETE\n", a->to);
		return report_damage(m->id, &res, r);
	}
	return EXIT_OK;
}

static int run(struct restore_args *a, struct vault *v)
{
	struct manifest m;
	struct blob_ctx c;
	struct bindex bi;
	char sz[32];
	int r, dfd = -1;

	r = blob_ctx_init(&c, v);
	if (!r)
		r = vault_point_load(v, &c, a->point, &m);
	if (r < 0) {
		blob_ctx_free(&c);
		return fail("restore", r, "cannot read point %s", a->point);
	}
	r = bindex_init(&bi);
	if (!r)
		r = vault_index_load(v, &bi, NULL);
	if (r < 0)
		r = fail("restore", r, "cannot load the vault index");
	else if (a->escrow_dir)
		r = open_escrow_dir(a->escrow_dir, &m, &dfd);
	if (!r)
		r = do_restore(a, v, &m, &bi);
	if (!r && a->escrow_dir)
		r = write_escrow(v, &bi, &c, &m, a->escrow_dir, dfd);
	if (dfd >= 0)
		close(dfd);
	if (!r) {
		format_bytes(m.image_size, sz, sizeof(sz));
		printf("restored point %s of disk %s (%s) to %s\n", m.id, m.disk, sz, a->to);
	}
	if (!r && a->check_key)
		r = check_key(v, &c, &m, a->to);
	if (!r && manifest_meta(&m, "luks_uuid")) {
		if (a->escrow_dir)
			printf("open it with: cryptsetup open %s %s-restored --key-file %s/key\n",
			       a->to, m.disk, a->escrow_dir);
		else
			printf("open it with: cryptsetup open %s %s-restored --key-file DIR/key\n"
			       "(restore with --escrow-dir DIR to receive the escrowed key)\n",
			       a->to, m.disk);
	}
	bindex_free(&bi);
	manifest_free(&m);
	blob_ctx_free(&c);
	return r;
}

int cmd_restore(int argc, char **argv)
{
	struct restore_args a = { 0 };
	struct vault *v = NULL;
	int r;

	char disk[80];

	r = parse(argc, argv, &a);
	if (r)
		return r < 0 ? EXIT_OK : r;
	if (a.files.nfiles) {
		a.files.vault = a.vault;
		a.files.point = a.point;
		a.files.kek = a.kek;
		a.files.to = a.to;
		return restore_files(&a.files);
	}
	if (disk_guard_target(a.to, disk, sizeof(disk))) {
		fprintf(stderr, "cryptsnap restore: refused: %s is the live protected disk %s "
			"(restore to a new disk)\n", a.to, disk);
		return EXIT_BUSY;
	}
	r = cli_vault("restore", a.vault, 1, a.kek, &v);
	if (r)
		return r;
	r = vault_lock(v, VAULT_LOCK_SHARED);
	if (r == -EBUSY)
		r = cli_vault_busy("restore", v, VAULT_LOCK_SHARED, "cannot lock vault");
	else if (r < 0)
		r = fail("restore", r, "cannot lock vault");
	else
		r = run(&a, v);
	vault_close(v);
	return r;
}
