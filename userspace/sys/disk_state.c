// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "lib/crashpoint.h"
#include "lib/fsutil.h"
#include "lib/names.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/disk_state.h"
#include "sys/source.h"

const char *disk_state_dir(void)
{
	const char *e = getenv("CRYPTSNAP_STATE_DIR");

	return e && *e ? e : "/var/lib/cryptsnap";
}

static int path_of(const char *name, char *out, size_t len)
{
	if (!disk_name_valid(name))
		return -EINVAL;
	if ((size_t)snprintf(out, len, "%s/disks/%s.json", disk_state_dir(),
			     name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p <state dir>/disks; every level we create is 0700. */
int disk_state_prepare(void)
{
	char p[DISK_PATH_MAX];

	snprintf(p, sizeof(p), "%s/disks", disk_state_dir());
	return mkdir_p(p);
}

#define STR_FIELDS(X) X(name) X(vault) X(kek) X(backing) X(crypt) X(origin) \
	X(luks_uuid) X(cow_dir) X(pre_freeze) X(post_thaw) X(last_point) X(last_uuid)
#define U64_FIELDS(X) X(size) X(cow_size) X(last_counter)

static int get_str(json_object *o, const char *key, char *out, size_t len)
{
	const char *s;
	int r = vj_str(o, key, &s);

	if (r)
		return r;
	if (strlen(s) >= len)
		return -EUCLEAN;
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int decode(json_object *o, struct disk_state *d)
{
	uint64_t cs = 0;
	int r = 0;

#define GS(f) if (!r) r = get_str(o, #f, d->f, sizeof(d->f));
#define GU(f) if (!r) r = vj_u64(o, #f, &d->f);
	STR_FIELDS(GS)
	U64_FIELDS(GU)
#undef GS
#undef GU
	if (!r)
		r = vj_u64(o, "chunk_sectors", &cs);
	if (!r)
		r = vj_i64(o, "created", &d->created);
	/* Optional: state written before layouts were recorded has none,
	 * and its next backup is a full scan. */
	if (!r && json_object_object_get_ex(o, "last_layout", NULL))
		r = get_str(o, "last_layout", d->last_layout, sizeof(d->last_layout));
	if (!r && (cs < 8 || cs > 16384 || (cs & (cs - 1))))
		r = -EUCLEAN;
	d->chunk_sectors = (uint32_t)cs;
	return r;
}

int disk_state_load(const char *name, struct disk_state *d)
{
	char p[DISK_PATH_MAX];
	json_object *o;
	uint8_t *buf;
	size_t len;
	int r;

	r = path_of(name, p, sizeof(p));
	if (r)
		return r;
	r = read_small_file(p, 1 << 20, &buf, &len);
	if (r)
		return r == -ENOENT ? -ENOENT : r;
	memset(d, 0, sizeof(*d));
	r = vj_parse(buf, len, &o);
	free(buf);
	if (r)
		return r;
	r = decode(o, d);
	json_object_put(o);
	return r;
}

int disk_state_save(const struct disk_state *d)
{
	char p[DISK_PATH_MAX], tmp[DISK_PATH_MAX + 8];
	json_object *o = json_object_new_object();
	const char *s;
	int r;

#define PS(f) json_object_object_add(o, #f, json_object_new_string(d->f));
#define PU(f) json_object_object_add(o, #f, json_object_new_uint64(d->f));
	STR_FIELDS(PS)
	U64_FIELDS(PU)
#undef PS
#undef PU
	json_object_object_add(o, "last_layout", json_object_new_string(d->last_layout));
	json_object_object_add(o, "chunk_sectors", json_object_new_uint64(d->chunk_sectors));
	json_object_object_add(o, "created", json_object_new_int64(d->created));
	r = disk_state_prepare();
	if (!r)
		r = path_of(d->name, p, sizeof(p));
	if (r)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	r = write_file_atomic_at(AT_FDCWD, p, tmp, s, strlen(s), 0);
	if (!r)
		crashpoint("disk-state.written");
out:
	json_object_put(o);
	return r;
}

int disk_state_delete(const char *name)
{
	char p[DISK_PATH_MAX];
	int r = path_of(name, p, sizeof(p));

	if (r)
		return r;
	if (unlink(p))
		return -errno;
	return fsync_parent_at(AT_FDCWD, p);
}

int disk_state_each(int (*fn)(const struct disk_state *d, void *arg), void *arg)
{
	char p[DISK_PATH_MAX];
	struct disk_state d;
	struct dirent *e;
	DIR *dir;
	int r = 0;

	snprintf(p, sizeof(p), "%s/disks", disk_state_dir());
	dir = opendir(p);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while (!r && (e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		char name[72];

		if (n < 6 || n - 5 >= sizeof(name) || strcmp(e->d_name + n - 5, ".json"))
			continue;
		memcpy(name, e->d_name, n - 5);
		name[n - 5] = 0;
		if (disk_state_load(name, &d) == 0)
			r = fn(&d, arg);
	}
	closedir(dir);
	return r;
}
