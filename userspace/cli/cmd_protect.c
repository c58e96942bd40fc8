// SPDX-License-Identifier: GPL-2.0
/*
 * cryptsnap protect / unprotect / status / key escrow: putting a live
 * dm-crypt disk under protection and taking it out again.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <json-c/json.h>

#include "cli/cmd.h"
#include "cli/cmd_common.h"
#include "cryptsnap-dm.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/blkdev.h"
#include "sys/disk_lock.h"
#include "sys/dm.h"
#include "sys/luks.h"
#include "sys/origin.h"
#include "sys/protect.h"
#include "vault/vault_disk.h"


struct protect_args {
	const char *device, *vault, *key_file, *name, *kek, *cow_dir;
	uint64_t cow_size;
	uint32_t chunk_sectors;
	const char *pre, *post;
};

static void protect_usage(FILE *f)
{
	fprintf(f,
		"usage: cryptsnap protect DEVICE [--vault VAULT] [options]\n"
		"\n"
		"Puts a dm-crypt/LUKS disk under protection: checks the key, escrows\n"
		"it in the vault (wrapped by the KEK) and stacks the cryptsnap target\n"
		"underneath the live mapping (no unmount, no reboot).  DEVICE is the\n"
		"LUKS device or the open mapping's name.  Options not given come from\n"
		"the configuration file (cryptsnap config check).\n"
		"  --vault VAULT     the vault\n"
		"  --key-file FILE   the disk's passphrase/keyfile (else asked on the terminal)\n"
		"  --name NAME       disk name (default: the mapping's name)\n"
		"  --kek FILE        KEK file instead of the one recorded in the vault\n"
		"  --cow-dir DIR     where snapshot COW files go (default %s/cow);\n"
		"                    must not live on the protected disk\n"
		"  --cow-size SIZE   COW store size (default: the disk's size, sparse: it\n"
		"                    only ever holds chunks the backup still needs that\n"
		"                    are overwritten before it reads them)\n"
		"  --chunk-size SIZE tracking chunk (default: the vault's chunk size)\n"
		"  --pre-freeze FILE / --post-thaw FILE   scripts run around each snapshot\n",
		disk_state_dir());
}

static int protect_parse(int argc, char **argv, struct protect_args *a)
{
	static const struct option opts[] = {
		{ "vault", required_argument, NULL, 'v' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "kek", required_argument, NULL, 'K' },
		{ "cow-dir", required_argument, NULL, 'c' },
		{ "cow-size", required_argument, NULL, 's' },
		{ "chunk-size", required_argument, NULL, 'C' },
		{ "pre-freeze", required_argument, NULL, 'p' },
		{ "post-thaw", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': a->vault = optarg; break;
		case 'k': a->key_file = optarg; break;
		case 'n': a->name = optarg; break;
		case 'K': a->kek = optarg; break;
		case 'c': a->cow_dir = optarg; break;
		case 'p': a->pre = optarg; break;
		case 'P': a->post = optarg; break;
		case 's':
			if (cli_size("protect", "--cow-size", optarg, COW_SIZE_MIN, COW_SIZE_MAX,
				     &a->cow_size))
				return EXIT_USAGE;
			break;
		case 'C':
			if (cli_size("protect", "--chunk-size", optarg, 4096, 8 << 20, &v))
				return EXIT_USAGE;
			if (v & (v - 1))
				return fail_errno("protect", 0, "bad --chunk-size '%s' (power of two, 4K..8M)", optarg), EXIT_USAGE;
			a->chunk_sectors = (uint32_t)(v >> 9);
			break;
		case 'h': protect_usage(stdout); return -1;
		default: protect_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		protect_usage(stderr);
		return EXIT_USAGE;
	}
	a->device = argv[optind];
	return EXIT_OK;
}

/* Options not given come from the configuration: the section of --name,
 * else of the mapping named as DEVICE, over [defaults]. */
static int protect_config(struct protect_args *a, struct config *cfg)
{
	const char *name = a->name;
	struct config_section e;
	int r;

	if (!name && !strncmp(a->device, "/dev/mapper/", 12))
		name = a->device + 12;
	else if (!name && !strchr(a->device, '/'))
		name = a->device;
	r = cli_config("protect", name, cfg, &e);
	if (r)
		return r;
	a->vault = a->vault ? a->vault : e.vault;
	a->kek = a->kek ? a->kek : e.kek;
	a->cow_dir = a->cow_dir ? a->cow_dir : e.cow_dir;
	a->cow_size = a->cow_size ? a->cow_size : e.cow_size;
	a->chunk_sectors = a->chunk_sectors ? a->chunk_sectors : e.chunk_size >> 9;
	a->pre = a->pre ? a->pre : e.pre_freeze;
	a->post = a->post ? a->post : e.post_thaw;
	if (a->vault)
		return EXIT_OK;
	fail_errno("protect", 0, "no vault: give --vault or set vault in %s", cfg->path);
	config_free(cfg);
	return EXIT_USAGE;
}

static int already_protected(const struct disk_state *d, void *arg)
{
	const char *backing = arg;
	dev_t a, b;

	return !blk_devno(d->backing, &a) && !blk_devno(backing, &b) && a == b;
}

/* Fills the state of a newly protected disk from what we found. */
static int protect_state(const struct protect_args *a, const struct resolved *r,
			 const struct luks_info *li, const struct vault *v,
			 struct disk_state *d)
{
	const char *name = a->name ? a->name : r->crypt[0] ? r->crypt : NULL;
	char cow[DISK_PATH_MAX];

	if (!name)
		return fail_errno("protect", 0, "%s is not open: give it a --name", a->device), EXIT_USAGE;
	if (!disk_name_valid(name))
		return fail_errno("protect", 0, "bad disk name '%s'", name), EXIT_USAGE;
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, strlen(name) + 1);	/* valid: <= DISK_NAME_MAX */
	if (!realpath(a->vault, d->vault))
		snprintf(d->vault, sizeof(d->vault), "%s", a->vault);
	snprintf(d->kek, sizeof(d->kek), "%s", a->kek ? a->kek : "");
	snprintf(d->backing, sizeof(d->backing), "%s", r->backing);
	snprintf(d->crypt, sizeof(d->crypt), "%s", r->crypt[0] ? r->crypt : name);
	snprintf(d->origin, sizeof(d->origin), "cryptsnap-%s", d->name);
	snprintf(d->luks_uuid, sizeof(d->luks_uuid), "%s", li->uuid);
	d->chunk_sectors = a->chunk_sectors ? a->chunk_sectors : v->chunk_size >> 9;
	if (blk_size(r->backing, &d->size))
		return fail_errno("protect", -EIO, "cannot size %s", r->backing);
	snprintf(cow, sizeof(cow), "%s/cow", disk_state_dir());
	snprintf(d->cow_dir, sizeof(d->cow_dir), "%s", a->cow_dir ? a->cow_dir : cow);
	/*
	 * The kernel copies only chunks the backup still needs (its change
	 * set, or for a full backup what it has not read yet), so a sparse
	 * store as large as the disk never fills up logically; what it takes
	 * on the COW file system is bounded by that set.
	 */
	d->cow_size = a->cow_size ? a->cow_size : d->size;
	snprintf(d->pre_freeze, sizeof(d->pre_freeze), "%s", a->pre ? a->pre : "");
	snprintf(d->post_thaw, sizeof(d->post_thaw), "%s", a->post ? a->post : "");
	d->created = time(NULL);
	return EXIT_OK;
}

static int escrow_key(struct vault *v, const struct disk_state *d,
		      const struct luks_info *li, const uint8_t *key, size_t len)
{
	struct vault_disk_rec rec = { 0 };

	snprintf(rec.name, sizeof(rec.name), "%s", d->name);
	snprintf(rec.luks_uuid, sizeof(rec.luks_uuid), "%s", li->uuid);
	rec.luks_version = li->version;
	rec.size = d->size;
	rec.chunk_size = d->chunk_sectors << 9;
	vault_disk_set_meta(&rec, "cipher", li->cipher);
	return vault_disk_put(v, &rec, key, len);
}

static int protect_locked(struct vault *v, const struct resolved *rs,
			  const struct luks_info *li, const struct disk_state *dp,
			  const uint8_t *key, size_t key_len);

static int protect_run(struct protect_args *a, struct vault *v, uint8_t *key,
		       size_t key_len)
{
	struct luks_info li;
	struct resolved r;
	struct disk_state d;
	char blkid_uuid[64];
	int ret, lock_fd;

	ret = disk_resolve(a->device, &r);
	if (ret)
		return fail_errno("protect", ret, "unknown device %s", a->device);
	if (r.stacked || disk_state_each(already_protected, r.backing) > 0)
		return fail_errno("protect", -EEXIST, "%s is already protected", r.backing);
	if (blk_probe_luks(r.backing, blkid_uuid, sizeof(blkid_uuid)))
		return fail_errno("protect", 0, "%s: its backing device %s carries no LUKS header "
				  "(plain dm-crypt, a detached header, LUKS2 --integrity?); only LUKS on the "
				  "device can be protected: a recovery point holds the header that opens it",
				  a->device, r.backing), EXIT_NOTFOUND;
	ret = luks_identify(r.backing, &li);
	if (ret)
		return fail_errno("protect", ret, "cannot read the LUKS header of %s", r.backing);
	ret = luks_check_key(r.backing, key, key_len);
	if (ret < 0)
		return fail_errno("protect", 0, "the key does not open any keyslot of %s", r.backing), EXIT_KEY;
	ret = protect_state(a, &r, &li, v, &d);
	if (ret)
		return ret;
	ret = cli_disk_lock("protect", d.name, &lock_fd);
	if (ret)
		return ret;
	ret = protect_locked(v, &r, &li, &d, key, key_len);
	disk_unlock(lock_fd);
	return ret;
}

/* Under the disk's host lock: no backup or unprotect of that name runs. */
static int protect_locked(struct vault *v, const struct resolved *rs,
			  const struct luks_info *li, const struct disk_state *dp,
			  const uint8_t *key, size_t key_len)
{
	struct disk_state d = *dp, old;
	struct resolved r = *rs;
	int ret;

	if (!disk_state_load(d.name, &old))
		return fail_errno("protect", -EEXIST, "a disk named '%s' is already protected", d.name);
	ret = disk_state_prepare();
	if (ret)
		return fail_errno("protect", ret, "cannot create %s", disk_state_dir());
	if (mkdir(d.cow_dir, 0700) && errno != EEXIST)
		return fail_errno("protect", -errno, "cannot create %s", d.cow_dir);
	ret = cow_dir_check(d.cow_dir, r.backing_dev);
	if (ret == -ELOOP)
		return fail_errno("protect", 0, "COW directory %s lives on the protected disk itself; choose another --cow-dir", d.cow_dir), EXIT_USAGE;
	if (ret)
		return fail_errno("protect", ret, "COW directory %s", d.cow_dir);
	ret = escrow_key(v, &d, li, key, key_len);
	if (ret)
		return fail("protect", ret, "cannot escrow the key of %s in the vault", d.name);
	ret = disk_stack(&d, r.crypt[0] != 0, key, key_len);
	if (ret)
		return fail_errno("protect", ret, "cannot stack the cryptsnap target under %s", d.crypt);
	/* A pass-through of an earlier protection under another name is no
	 * longer under the mapping: remove it (best effort). */
	if (r.through[0] && strcmp(r.through, d.origin))
		csdm_remove(r.through);
	ret = disk_state_save(&d);
	if (ret) {
		int through;

		disk_unstack(&d, key, key_len, &through);
		return fail_errno("protect", ret, "cannot save state in %s", disk_state_dir());
	}
	log_event(LOG_NOTICE, "protect finished: disk=%s mapping=%s backing=%s result=ok, key escrowed",
		  d.name, d.crypt, d.backing);
	printf("protected %s: LUKS%d %s, %" PRIu64 " MiB, chunk %u KiB, mapping %s on %s over %s\n",
	       d.name, li->version, li->uuid, d.size >> 20, d.chunk_sectors / 2,
	       d.crypt, d.origin, d.backing);
	return EXIT_OK;
}

int cmd_protect(int argc, char **argv)
{
	struct protect_args a = { 0 };
	struct config cfg;
	struct vault *v = NULL;
	uint8_t *key = NULL;
	size_t key_len = 0;
	int ret;

	ret = protect_parse(argc, argv, &a);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = protect_config(&a, &cfg);
	if (ret)
		return ret;
	ret = key_read(a.key_file, &key, &key_len);
	if (ret) {
		ret = fail_errno("protect", ret, "cannot read the key%s%s",
				 a.key_file ? " from " : " (no terminal; use --key-file)",
				 a.key_file ? a.key_file : "");
		goto out;
	}
	ret = cli_vault("protect", a.vault, 1, a.kek, &v);
	if (!ret)
		ret = protect_run(&a, v, key, key_len);
	secmem_free(key);
	if (v)
		vault_close(v);
out:
	config_free(&cfg);
	return ret;
}

int cmd_unprotect(int argc, char **argv)
{
	static const char usage[] =
		"cryptsnap unprotect DISK [--key-file FILE]\n\n"
		"Takes the cryptsnap target out from under the live mapping and forgets the\n"
		"disk locally.  Its recovery points stay in the vault.  A mapping opened by\n"
		"cryptsetup or systemd-cryptsetup keeps its LUKS2 volume key in the kernel\n"
		"keyring, where it is gone after activation: with --key-file (the passphrase)\n"
		"the mapping is put back on the disk; without it the target becomes a plain\n"
		"pass-through that stays under the mapping until it is closed.";
	static const struct option opts[] = {
		{ "key-file", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *key_file = NULL;
	struct disk_state d;
	uint8_t *key = NULL;
	size_t key_len = 0;
	int c, r, lock_fd, through = 0;

	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		if (c == 'k') {
			key_file = optarg;
		} else if (c == 'h') {
			printf("usage: %s\n", usage);
			return EXIT_OK;
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s\n", usage);
		return EXIT_USAGE;
	}
	r = disk_state_load(argv[optind], &d);
	if (r == -ENOENT && disk_name_valid(argv[optind])) {
		/* What an earlier unprotect left under a keyring-keyed mapping. */
		r = disk_through_remove(argv[optind]);
		if (!r) {
			printf("removed the pass-through cryptsnap-%s\n", argv[optind]);
			return EXIT_OK;
		}
		if (r == -EBUSY)
			return fail_errno("unprotect", r, "the pass-through cryptsnap-%s is still "
					  "in use: close the mapping on it first", argv[optind]);
		r = -ENOENT;
	}
	if (r)
		return fail_errno("unprotect", r, "unknown disk '%s'", argv[optind]);
	if (key_file) {
		r = key_read(key_file, &key, &key_len);
		if (r)
			return fail_errno("unprotect", r, "cannot read the key from %s", key_file);
		r = luks_check_key(d.backing, key, key_len);
		if (r < 0) {
			secmem_free(key);
			return fail_errno("unprotect", 0, "the key does not open any keyslot of %s",
					  d.backing), EXIT_KEY;
		}
	}
	/* Not under a running backup's snapshot. */
	r = cli_disk_lock("unprotect", d.name, &lock_fd);
	if (r) {
		secmem_free(key);
		return r;
	}
	r = disk_unstack(&d, key, key_len, &through);
	secmem_free(key);
	if (r) {
		disk_unlock(lock_fd);
		return fail_errno("unprotect", r, "cannot unstack %s", d.name);
	}
	r = disk_state_delete(d.name);
	if (r) {
		disk_unlock(lock_fd);
		return fail_errno("unprotect", r, "cannot remove the state of %s", d.name);
	}
	disk_unlock_remove(d.name, lock_fd);
	log_event(LOG_NOTICE, "unprotect finished: disk=%s result=ok%s", d.name,
		  through ? ", pass-through left under the mapping" : "");
	if (through)
		printf("unprotected %s: tracking stopped; %s stays on %s, now a plain pass-through "
		       "to %s, because its volume key is in the kernel keyring and the mapping cannot "
		       "be reloaded without the passphrase (--key-file); after closing %s, run "
		       "'cryptsnap unprotect %s' again to remove it\n",
		       d.name, d.crypt, d.origin, d.backing, d.crypt, d.name);
	else
		printf("unprotected %s: %s sits on %s again\n", d.name, d.crypt, d.backing);
	return EXIT_OK;
}

static void print_status(const struct disk_state *d, const struct origin_status *st,
			 int have, int json)
{
	if (json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "disk", json_object_new_string(d->name));
		json_object_object_add(o, "mapping", json_object_new_string(d->crypt));
		json_object_object_add(o, "backing", json_object_new_string(d->backing));
		json_object_object_add(o, "vault", json_object_new_string(d->vault));
		json_object_object_add(o, "last_point", json_object_new_string(d->last_point));
		json_object_object_add(o, "tracking", json_object_new_boolean(have));
		if (have) {
			json_object_object_add(o, "generation", json_object_new_string(st->uuid));
			json_object_object_add(o, "counter", json_object_new_uint64(st->counter));
			json_object_object_add(o, "chunk_size", json_object_new_uint64(st->chunk_sectors << 9));
			json_object_object_add(o, "chunks", json_object_new_uint64(st->chunks));
			json_object_object_add(o, "changed_chunks", json_object_new_uint64(st->changed));
			json_object_object_add(o, "snapshot", json_object_new_string(st->snap_state));
			json_object_object_add(o, "continuous", json_object_new_boolean(
				d->last_point[0] && !strcmp(st->uuid, d->last_uuid) &&
				st->base == d->last_counter));
		}
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return;
	}
	printf("disk %s: mapping %s over %s\n", d->name, d->crypt, d->backing);
	printf("  vault       %s\n", d->vault);
	printf("  last point  %s\n", d->last_point[0] ? d->last_point : "(none)");
	if (!have) {
		printf("  tracking    NOT ACTIVE (target %s missing; next backup is a full scan)\n", d->origin);
		return;
	}
	printf("  tracking    generation %s/%" PRIu64 ", %s\n", st->uuid, st->counter,
	       !d->last_point[0] ? "no recovery point yet (next backup is full)" :
	       !strcmp(st->uuid, d->last_uuid) && st->base == d->last_counter ?
	       "continuous since the last point" :
	       "NOT continuous since the last point (next backup is full)");
	printf("  changed     %" PRIu64 " of %" PRIu64 " chunks of %" PRIu64 " KiB\n",
	       st->changed, st->chunks, st->chunk_sectors / 2);
	printf("  snapshot    %s\n", st->snap_state);
}

struct status_ctx {
	int json, n;
};

static int status_one(const struct disk_state *d, void *arg)
{
	struct status_ctx *c = arg;
	struct origin_status st;
	int have = origin_status(d->origin, &st) == 0;

	print_status(d, &st, have, c->json);
	c->n++;
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct status_ctx c = { 0 };
	struct disk_state d;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'j') {
			c.json = 1;
			continue;
		}
		printf("usage: cryptsnap status [DISK] [--json]\n");
		return o == 'h' ? EXIT_OK : EXIT_USAGE;
	}
	if (optind < argc) {
		r = disk_state_load(argv[optind], &d);
		if (r)
			return fail_errno("status", r, "unknown disk '%s'", argv[optind]);
		return status_one(&d, &c);
	}
	r = disk_state_each(status_one, &c);
	if (!c.n)
		printf("no protected disks\n");
	return r ? EXIT_FAIL : EXIT_OK;
}

/* cryptsnap key escrow DISK [--key-file F]: after a LUKS passphrase change. */
static int key_escrow_locked(struct disk_state *d0, const char *key_file, const char *kek);

int cmd_key_escrow_disk(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-file", required_argument, NULL, 'k' },
		{ "kek", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *key_file = NULL, *kek = NULL;
	struct disk_state d;
	int c, r, lock_fd;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_file = optarg; break;
		case 'K': kek = optarg; break;
		default:
			printf("usage: cryptsnap key escrow DISK [--key-file FILE] [--kek FILE]\n"
			       "\nEscrows the disk's current passphrase/keyfile (after a LUKS key change).\n");
			return c == 'h' ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (optind != argc - 1)
		return fail_errno("key escrow", 0, "give exactly one DISK"), EXIT_USAGE;
	r = disk_state_load(argv[optind], &d);
	if (r)
		return fail_errno("key escrow", r, "unknown disk '%s'", argv[optind]);
	/* A backup running now checks and seals the key escrowed before. */
	r = cli_disk_lock("key escrow", d.name, &lock_fd);
	if (r)
		return r;
	r = key_escrow_locked(&d, key_file, kek);
	disk_unlock(lock_fd);
	return r;
}

static int key_escrow_locked(struct disk_state *d0, const char *key_file, const char *kek)
{
	struct disk_state d;
	struct luks_info li;
	struct vault *v = NULL;
	uint8_t *key = NULL;
	size_t key_len;
	int r;

	r = disk_state_load(d0->name, &d);
	if (r)
		return fail_errno("key escrow", r, "unknown disk '%s'", d0->name);
	r = key_read(key_file, &key, &key_len);
	if (r)
		return fail_errno("key escrow", r, "cannot read the key");
	if (luks_identify(d.backing, &li) || luks_check_key(d.backing, key, key_len) < 0) {
		secmem_free(key);
		return fail_errno("key escrow", 0, "the key does not open any keyslot of %s", d.backing), EXIT_KEY;
	}
	r = cli_vault("key escrow", d.vault, 1, kek ? kek : d.kek[0] ? d.kek : NULL, &v);
	if (!r) {
		r = escrow_key(v, &d, &li, key, key_len);
		r = r ? fail("key escrow", r, "cannot escrow the key of %s", d.name) : EXIT_OK;
		vault_close(v);
	}
	secmem_free(key);
	if (r)
		log_event(LOG_ERR, "key escrow failed: disk=%s result=exit %d", d.name, r);
	if (!r) {
		log_event(LOG_NOTICE, "key escrow finished: disk=%s result=ok", d.name);
		printf("escrowed the current key of %s\n", d.name);
	}
	return r;
}
