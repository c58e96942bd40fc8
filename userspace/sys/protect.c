// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/sysmacros.h>

#include "cryptsnap-dm.h"
#include "lib/secmem.h"
#include "lib/util.h"
#include "sys/blkdev.h"
#include "sys/dm.h"
#include "sys/dmparse.h"
#include "sys/luks.h"
#include "sys/origin.h"
#include "sys/protect.h"
#include "sys/source.h"

#define KEY_MAX 8192

/* The dm-crypt mapping whose single table line sits on dev, if any. */
static int crypt_type_of(const char *name, dev_t *under)
{
	struct dm_line *lines;
	unsigned int n, nd;
	dev_t deps[4];
	int r;

	r = csdm_table(name, &lines, &n);
	if (r)
		return r;
	r = (n == 1 && !strcmp(lines[0].type, "crypt")) ? 0 : -EMEDIUMTYPE;
	csdm_lines_free(lines, n);
	if (!r)
		r = csdm_deps(name, deps, 4, &nd);
	if (!r && nd != 1)
		r = -EMEDIUMTYPE;
	if (!r)
		*under = deps[0];
	return r;
}

/*
 * What sits between a crypt mapping and its disk: ORIGIN_TARGET (our
 * target), ORIGIN_THROUGH (the linear pass-through unprotect leaves under
 * a keyring-keyed mapping: "cryptsnap-*", one linear line at offset 0), or
 * 0 for anything else.  *under: the device below it.
 */
enum { ORIGIN_TARGET = 1, ORIGIN_THROUGH = 2 };

static int origin_kind(const char *name, dev_t *under)
{
	struct dm_line *lines;
	unsigned int n, nd, ma, mi;
	unsigned long long off;
	dev_t deps[2];
	int kind = 0, end = 0;

	if (csdm_table(name, &lines, &n))
		return 0;
	if (n == 1 && !strcmp(lines[0].type, CRYPTSNAP_TARGET_NAME))
		kind = ORIGIN_TARGET;
	else if (n == 1 && !strcmp(lines[0].type, "linear") && lines[0].start == 0 &&
		 !strncmp(name, "cryptsnap-", 10) &&
		 sscanf(lines[0].params, "%u:%u %llu%n", &ma, &mi, &off, &end) == 3 &&
		 !lines[0].params[end] && off == 0)
		kind = ORIGIN_THROUGH;
	csdm_lines_free(lines, n);
	if (kind && (csdm_deps(name, deps, 2, &nd) || nd != 1))
		kind = 0;
	if (kind)
		*under = deps[0];
	return kind;
}

static int from_mapping(const char *name, struct resolved *r)
{
	dev_t under;
	char origin[128];
	int ret;

	ret = crypt_type_of(name, &under);
	if (ret)
		return ret;
	snprintf(r->crypt, sizeof(r->crypt), "%s", name);
	/* Already stacked: the device under the crypt mapping is our origin
	 * (or the pass-through an earlier unprotect left there). */
	if (!csdm_name_of(under, origin, sizeof(origin))) {
		switch (origin_kind(origin, &under)) {
		case ORIGIN_TARGET:
			r->stacked = 1;
			break;
		case ORIGIN_THROUGH:
			snprintf(r->through, sizeof(r->through), "%s", origin);
			break;
		}
	}
	r->backing_dev = under;
	blk_path(under, r->backing, sizeof(r->backing));
	return 0;
}

/* Name of the dm device "dm-N" in sysfs. */
static int sysfs_dm_name(const char *kname, char *name, size_t len)
{
	char p[300];
	FILE *f;
	int r = -ENOENT;

	snprintf(p, sizeof(p), "/sys/block/%s/dm/name", kname);
	f = fopen(p, "re");
	if (!f)
		return -ENOENT;
	if (fgets(name, (int)len, f)) {
		name[strcspn(name, "\n")] = 0;
		r = 0;
	}
	fclose(f);
	return r;
}

/*
 * Look for an open dm-crypt mapping on the backing device: among its
 * holders, or one level up when our origin target (or pass-through) sits
 * in between.  kind: what dev itself is (0: the disk).
 */
static void find_mapping(struct resolved *r, dev_t dev, int kind, const char *via)
{
	char dir[128], name[128];
	struct dirent *e;
	dev_t under, odev;
	int k;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
	d = opendir(dir);
	if (!d)
		return;
	while (!r->crypt[0] && (e = readdir(d))) {
		if (e->d_name[0] == '.' || sysfs_dm_name(e->d_name, name, sizeof(name)))
			continue;
		if (!crypt_type_of(name, &under)) {
			snprintf(r->crypt, sizeof(r->crypt), "%s", name);
			r->stacked = kind == ORIGIN_TARGET;
			if (kind == ORIGIN_THROUGH)
				snprintf(r->through, sizeof(r->through), "%s", via);
		} else if (!kind && (k = origin_kind(name, &under)) &&
			   !csdm_devno(name, &odev)) {
			find_mapping(r, odev, k, name);
		}
	}
	closedir(d);
}

int disk_resolve(const char *device, struct resolved *r)
{
	const char *name = device;

	memset(r, 0, sizeof(*r));
	if (!strncmp(name, "/dev/mapper/", 12))
		name += 12;
	if (!strchr(name, '/') && csdm_exists(name))
		return from_mapping(name, r);
	if (blk_devno(device, &r->backing_dev))
		return -ENOENT;
	snprintf(r->backing, sizeof(r->backing), "%s", device);
	find_mapping(r, r->backing_dev, 0, "");
	return 0;
}

/* Reload crypt with its device replaced; key: hex volume key or NULL to
 * keep the table's own (already explicit) key. */
static int swap_under(const char *crypt, dev_t dev, const char *key)
{
	struct dm_line *lines, nl;
	unsigned int n;
	char *params;
	int r;

	r = csdm_table(crypt, &lines, &n);
	if (r)
		return r;
	if (n != 1 || strcmp(lines[0].type, "crypt")) {
		csdm_lines_free(lines, n);
		return -EMEDIUMTYPE;
	}
	r = crypt_params_rewrite(lines[0].params, key, major(dev), minor(dev), &params);
	if (!r) {
		nl = lines[0];
		nl.params = params;
		r = csdm_swap_table(crypt, &nl, 1);
		secmem_wipe(params, strlen(params));
		secmem_free(params);
	}
	csdm_lines_free(lines, n);
	return r;
}

/* The volume key of the LUKS device behind d, as hex in secmem. */
static int volume_key_hex(const struct disk_state *d, const uint8_t *key,
			  size_t key_len, char **out)
{
	uint8_t *vk = NULL;
	size_t vk_len = 0;
	char *hex;
	int r;

	r = luks_volume_key(d->backing, key, key_len, &vk, &vk_len);
	if (r)
		return r;
	hex = secmem_alloc(2 * vk_len + 1);
	if (hex)
		hex_encode(vk, vk_len, hex);
	secmem_free(vk);
	if (!hex)
		return -ENOMEM;
	*out = hex;
	return 0;
}

static void hex_free(char *hex)
{
	if (hex) {
		secmem_wipe(hex, strlen(hex));
		secmem_free(hex);
	}
}

/* The target over d->backing under the name d->origin: a fresh device, or
 * the pass-through an earlier unprotect left (reloaded live).  *reused. */
static int origin_up(const struct disk_state *d, int *reused)
{
	dev_t under, bdev;
	int r;

	*reused = 0;
	if (!csdm_exists(d->origin))
		return origin_create(d->origin, d->backing, d->size >> 9, d->chunk_sectors);
	r = blk_devno(d->backing, &bdev);
	if (r)
		return r;
	if (origin_kind(d->origin, &under) != ORIGIN_THROUGH || under != bdev)
		return -EEXIST;
	*reused = 1;
	return origin_reload(d->origin, d->backing, d->size >> 9, d->chunk_sectors);
}

int disk_stack(const struct disk_state *d, int mapping_open,
	       const uint8_t *key, size_t key_len)
{
	char path[160], *hex = NULL;
	dev_t odev, under, bdev;
	int r, reused;

	r = origin_up(d, &reused);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/dev/mapper/%s", d->origin);
	r = csdm_devno(d->origin, &odev);
	if (!r && mapping_open) {
		/* On a reused pass-through the mapping already sits on it. */
		if (reused && !crypt_type_of(d->crypt, &under) && under == odev)
			return 0;
		r = volume_key_hex(d, key, key_len, &hex);
		if (!r)
			r = swap_under(d->crypt, odev, hex);
		hex_free(hex);
	} else if (!r) {
		r = luks_open(path, d->crypt, key, key_len);
	}
	if (r && reused && !blk_devno(d->backing, &bdev))
		origin_passthrough(d->origin, bdev, d->size >> 9);
	else if (r)
		csdm_remove(d->origin);
	return r;
}

/* 1 when the crypt table names its key in the kernel keyring
 * (":<size>:<type>:<description>", cryptsetup's LUKS2 default). */
static int key_in_keyring(const char *crypt)
{
	struct dm_line *lines;
	unsigned int n;
	char cipher[128];
	int k = 0, in;

	if (csdm_table(crypt, &lines, &n))
		return 0;
	in = n == 1 && sscanf(lines[0].params, "%127s %n", cipher, &k) == 1 &&
	     lines[0].params[k] == ':';
	csdm_lines_free(lines, n);
	return in;
}

int disk_unstack(const struct disk_state *d, const uint8_t *key, size_t key_len,
		 int *through)
{
	struct dm_line *lines;
	dev_t bdev, under;
	char *hex = NULL;
	uint64_t sectors;
	unsigned int n;
	int r;

	*through = 0;
	if (d->crypt[0] && !crypt_type_of(d->crypt, &under) &&
	    !blk_devno(d->backing, &bdev) && under != bdev) {
		if (!key_in_keyring(d->crypt)) {
			/* Our own table already holds the key in hex: keep it. */
			r = swap_under(d->crypt, bdev, NULL);
		} else if (key) {
			r = volume_key_hex(d, key, key_len, &hex);
			if (!r)
				r = swap_under(d->crypt, bdev, hex);
			hex_free(hex);
		} else {
			/*
			 * The key went to the kernel keyring and is gone: the
			 * crypt table cannot be reloaded.  Leave the device
			 * where it is, as a plain linear map of the disk.
			 */
			if (csdm_table(d->origin, &lines, &n))
				return -ENODEV;
			sectors = n == 1 ? lines[0].len : 0;
			csdm_lines_free(lines, n);
			if (!sectors)
				return -EMEDIUMTYPE;
			origin_snap_drop(d->origin);	/* -EBUSY: there was none */
			r = origin_passthrough(d->origin, bdev, sectors);
			if (!r)
				*through = 1;
			return r;
		}
		if (r)
			return r;
	}
	if (csdm_exists(d->origin)) {
		origin_snap_drop(d->origin);	/* -EBUSY: there was none */
		r = csdm_remove(d->origin);
		if (r)
			return r;
	}
	return 0;
}

int disk_through_remove(const char *name)
{
	char origin[160];
	dev_t under;

	snprintf(origin, sizeof(origin), "cryptsnap-%s", name);
	if (!csdm_exists(origin) || origin_kind(origin, &under) != ORIGIN_THROUGH)
		return -ENOENT;
	return csdm_remove(origin);
}

/* dev_t of the whole disk a partition belongs to, else dev itself. */
static dev_t whole_disk(dev_t dev)
{
	char p[128], real[512], *slash;
	unsigned int ma, mi;
	FILE *f;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/partition", major(dev), minor(dev));
	if (access(p, F_OK))
		return dev;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if (!realpath(p, real) || !(slash = strrchr(real, '/')))
		return dev;
	snprintf(slash, sizeof(real) - (size_t)(slash - real), "/dev");
	f = fopen(real, "re");
	if (!f)
		return dev;
	if (fscanf(f, "%u:%u", &ma, &mi) == 2)
		dev = makedev(ma, mi);
	fclose(f);
	return dev;
}

struct guard {
	dev_t target;
	char *disk;
	size_t len;
};

static int guard_one(const struct disk_state *d, void *arg)
{
	struct guard *g = arg;
	dev_t b;

	if (blk_devno(d->backing, &b))
		return 0;
	if (b == g->target || blk_depends_on(g->target, b) ||
	    blk_depends_on(b, g->target) || whole_disk(b) == g->target) {
		snprintf(g->disk, g->len, "%s", d->name);
		return -EBUSY;
	}
	return 0;
}

int disk_guard_target(const char *path, char *disk, size_t len)
{
	struct guard g = { .disk = disk, .len = len };

	if (blk_devno(path, &g.target))
		return 0;	/* not a block device: a file is never a live disk */
	return disk_state_each(guard_one, &g);
}

struct one_vault {
	char *vault;
	size_t len;
	int n;
};

static int vault_one(const struct disk_state *d, void *arg)
{
	struct one_vault *o = arg;

	if (o->n && strcmp(o->vault, d->vault))
		return -EEXIST;
	snprintf(o->vault, o->len, "%s", d->vault);
	o->n++;
	return 0;
}

int disk_default_vault(char *vault, size_t len)
{
	struct one_vault o = { .vault = vault, .len = len };
	int r = disk_state_each(vault_one, &o);

	return r ? r : o.n ? 0 : -ENOENT;
}

static int read_tty(uint8_t **key, size_t *len)
{
	struct termios old, quiet;
	char *buf;
	FILE *tty;
	int r = 0;

	tty = fopen("/dev/tty", "r+e");
	if (!tty)
		return -ENOTTY;
	buf = secmem_alloc(KEY_MAX);
	if (!buf) {
		fclose(tty);
		return -ENOMEM;
	}
	/* Unbuffered: stdio's buffer would be a copy in ordinary heap. */
	setvbuf(tty, NULL, _IONBF, 0);
	fputs("Passphrase: ", tty);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (!fgets(buf, KEY_MAX, tty))
		r = -EIO;
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (r) {
		secmem_free(buf);
		return r;
	}
	buf[strcspn(buf, "\n")] = 0;
	*key = (uint8_t *)buf;
	*len = strlen(buf);
	return 0;
}

int key_read(const char *key_file, uint8_t **key, size_t *len)
{
	if (!key_file)
		return read_tty(key, len);
	return read_secret_file(key_file, KEY_MAX, key, len);
}
