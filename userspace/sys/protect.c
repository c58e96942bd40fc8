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

static int from_mapping(const char *name, struct resolved *r)
{
	struct dm_line *lines;
	unsigned int n;
	dev_t under;
	char origin[128];
	int ret;

	ret = crypt_type_of(name, &under);
	if (ret)
		return ret;
	snprintf(r->crypt, sizeof(r->crypt), "%s", name);
	/* Already stacked: the device under the crypt mapping is our origin. */
	if (!csdm_name_of(under, origin, sizeof(origin)) &&
	    !csdm_table(origin, &lines, &n)) {
		if (n == 1 && !strcmp(lines[0].type, CRYPTSNAP_TARGET_NAME)) {
			dev_t deps[2];
			unsigned int nd;

			r->stacked = 1;
			if (!csdm_deps(origin, deps, 2, &nd) && nd == 1)
				under = deps[0];
		}
		csdm_lines_free(lines, n);
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
 * holders, or one level up when our origin target sits in between.
 */
static void find_mapping(struct resolved *r, dev_t dev, int depth)
{
	char dir[128], name[128];
	struct dirent *e;
	dev_t under, odev;
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
			r->stacked = depth > 0;
		} else if (!depth && !csdm_devno(name, &odev)) {
			find_mapping(r, odev, depth + 1);
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
	find_mapping(r, r->backing_dev, 0);
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

int disk_stack(const struct disk_state *d, int mapping_open,
	       const uint8_t *key, size_t key_len)
{
	char path[160];
	uint8_t *vk = NULL;
	char *hex = NULL;
	size_t vk_len = 0;
	dev_t odev;
	int r;

	r = origin_create(d->origin, d->backing, d->size >> 9, d->chunk_sectors);
	if (r)
		return r;
	snprintf(path, sizeof(path), "/dev/mapper/%s", d->origin);
	r = csdm_devno(d->origin, &odev);
	if (!r && mapping_open) {
		r = luks_volume_key(d->backing, key, key_len, &vk, &vk_len);
		hex = r ? NULL : secmem_alloc(2 * vk_len + 1);
		if (!r && !hex)
			r = -ENOMEM;
		if (!r) {
			hex_encode(vk, vk_len, hex);
			r = swap_under(d->crypt, odev, hex);
			secmem_wipe(hex, 2 * vk_len);
		}
		secmem_free(hex);
		secmem_free(vk);
	} else if (!r) {
		r = luks_open(path, d->crypt, key, key_len);
	}
	if (r)
		csdm_remove(d->origin);
	return r;
}

int disk_unstack(const struct disk_state *d)
{
	dev_t bdev, under;
	int r;

	if (d->crypt[0] && !crypt_type_of(d->crypt, &under) &&
	    !blk_devno(d->backing, &bdev) && under != bdev) {
		/* Our own table already holds the key in hex: keep it. */
		r = swap_under(d->crypt, bdev, NULL);
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
