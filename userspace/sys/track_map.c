// SPDX-License-Identifier: GPL-2.0
/*
 * The saved change map (track_map.h): its file format, the rules for
 * trusting it after a shutdown, and the host facts those rules need.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "sys/disk_state.h"
#include "sys/track_map.h"

#define MAGIC		"CSNPMAP1"
#define UUID_LEN	40
#define HDR_LEN		(8 + 4 + 4 + 8 + 3 * UUID_LEN + 7 * 8)
#define EXT_LEN		16
#define SUM_LEN		32
/* Alternating chunks of the largest device: more cannot be valid. */
#define MAX_EXTENTS	(1ULL << 31)
/* The largest file that may hold them. */
#define MAX_FILE	(HDR_LEN + MAX_EXTENTS * EXT_LEN + SUM_LEN)

void track_map_free(struct track_map *m)
{
	free(m->ext);
	m->ext = NULL;
	m->n = 0;
}

int track_map_add(struct track_map *m, uint64_t start, uint64_t len)
{
	uint64_t *e;

	if (m->n >= MAX_EXTENTS)
		return -E2BIG;
	if (!(m->n & (m->n - 1))) {	/* grow at powers of two */
		e = realloc(m->ext, (m->n ? 2 * m->n : 1) * 2 * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->ext = e;
	}
	m->ext[2 * m->n] = start;
	m->ext[2 * m->n + 1] = len;
	m->n++;
	return 0;
}

static uint8_t *put_str(uint8_t *p, const char *s)
{
	memset(p, 0, UUID_LEN);
	memcpy(p, s, strnlen(s, UUID_LEN - 1));
	return p + UUID_LEN;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	put_le64(p, v);
	return p + 8;
}

int track_map_encode(const struct track_map *m, uint8_t **out, size_t *len)
{
	size_t sz = HDR_LEN + m->n * EXT_LEN + SUM_LEN;
	uint8_t *buf = malloc(sz), *p = buf;
	uint64_t i;
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(p, MAGIC, 8);
	put_le32(p + 8, TRACK_MAP_VERSION);
	put_le32(p + 12, m->chunk_sectors);
	p = put64(p + 16, m->size);
	p = put_str(p, m->luks_uuid);
	p = put_str(p, m->gen_uuid);
	p = put64(p, m->counter);
	p = put64(p, m->base);
	p = put_str(p, m->env.boot_id);
	p = put64(p, (uint64_t)m->env.btime);
	p = put64(p, (uint64_t)m->env.now);
	p = put64(p, m->env.writes);
	p = put64(p, m->env.discards);
	p = put64(p, m->n);
	for (i = 0; i < 2 * m->n; i++)
		p = put64(p, m->ext[i]);
	r = crypto_sha256(buf, (size_t)(p - buf), p);
	if (r) {
		free(buf);
		return r;
	}
	*out = buf;
	*len = sz;
	return 0;
}

/* A NUL-terminated field of UUID_LEN bytes. */
static int get_str(const uint8_t *p, char *out)
{
	if (!memchr(p, 0, UUID_LEN))
		return -EUCLEAN;
	memcpy(out, p, UUID_LEN);
	return 0;
}

static int decode_header(const uint8_t *buf, struct track_map *m)
{
	const uint8_t *p = buf + 16;

	if (get_le32(buf + 8) != TRACK_MAP_VERSION)
		return -EPROTONOSUPPORT;
	m->chunk_sectors = get_le32(buf + 12);
	m->size = get_le64(p);
	if (get_str(p + 8, m->luks_uuid) || get_str(p + 8 + UUID_LEN, m->gen_uuid))
		return -EUCLEAN;
	p += 8 + 2 * UUID_LEN;
	m->counter = get_le64(p);
	m->base = get_le64(p + 8);
	if (get_str(p + 16, m->env.boot_id))
		return -EUCLEAN;
	p += 16 + UUID_LEN;
	m->env.btime = (int64_t)get_le64(p);
	m->env.now = (int64_t)get_le64(p + 8);
	m->env.writes = get_le64(p + 16);
	m->env.discards = get_le64(p + 24);
	m->n = get_le64(p + 32);
	if (m->chunk_sectors < 8 || m->chunk_sectors & (m->chunk_sectors - 1) ||
	    !m->size || m->base > m->counter)
		return -EUCLEAN;
	return 0;
}

/* Extents in chunks: non-empty, ascending, apart, inside the device. */
static int decode_extents(const uint8_t *p, struct track_map *m)
{
	uint64_t nchunks = (m->size / 512 + m->chunk_sectors - 1) / m->chunk_sectors;
	uint64_t i, end = 0, s, l;

	m->ext = malloc((m->n ? m->n : 1) * 2 * sizeof(*m->ext));
	if (!m->ext)
		return -ENOMEM;
	for (i = 0; i < m->n; i++, p += EXT_LEN) {
		s = get_le64(p);
		l = get_le64(p + 8);
		if (!l || s < end || (i && s == end) || s >= nchunks ||
		    l > nchunks - s)
			return -EUCLEAN;
		m->ext[2 * i] = s;
		m->ext[2 * i + 1] = l;
		end = s + l;
	}
	return 0;
}

int track_map_decode(const uint8_t *buf, size_t len, struct track_map *m)
{
	uint8_t sum[SUM_LEN];
	uint64_t n;
	int r;

	memset(m, 0, sizeof(*m));
	if (len < HDR_LEN + SUM_LEN || memcmp(buf, MAGIC, 8))
		return -EBADMSG;
	r = crypto_sha256(buf, len - SUM_LEN, sum);
	if (r)
		return r;
	if (memcmp(sum, buf + len - SUM_LEN, SUM_LEN))
		return -EBADMSG;
	r = decode_header(buf, m);
	if (r)
		return r;
	n = m->n;
	if (n > MAX_EXTENTS || n > (len - HDR_LEN - SUM_LEN) / EXT_LEN)
		return m->n = 0, -E2BIG;
	if (HDR_LEN + n * EXT_LEN + SUM_LEN != len)
		return m->n = 0, -EUCLEAN;
	r = decode_extents(buf + HDR_LEN, m);
	if (r)
		track_map_free(m);
	return r;
}

static int same_boot(const struct track_map *m, const struct track_env *now,
		     char *why, size_t len)
{
	if (now->writes == m->env.writes && now->discards == m->env.discards)
		return 0;
	snprintf(why, len, "the disk was written without the target after the map was saved "
		 "(%" PRIu64 " writes, %" PRIu64 " discards since)",
		 now->writes - m->env.writes, now->discards - m->env.discards);
	return -ESTALE;
}

/*
 * Another boot.  The map must come from before this boot began and from
 * within the boot that saved it.  That a boot in between did not write
 * the disk is up to "cryptsnap boot" running at every boot: it takes the
 * map, so a second boot finds none.
 */
static int other_boot(const struct track_map *m, const struct track_env *now,
		      char *why, size_t len)
{
	if (m->env.now >= now->btime) {
		snprintf(why, len, "the map was saved by another boot after this boot began "
			 "(clock or boot id wrong)");
		return -ESTALE;
	}
	if (m->env.now < m->env.btime) {
		snprintf(why, len, "the map claims it was saved before its own boot began");
		return -ESTALE;
	}
	return 0;
}

int track_map_check(const struct track_map *m, const struct track_disk *d,
		    const struct track_env *now, char *why, size_t len)
{
	if (strcmp(m->luks_uuid, d->luks_uuid)) {
		snprintf(why, len, "the map belongs to LUKS device %s, not %s",
			 m->luks_uuid, d->luks_uuid);
		return -ESTALE;
	}
	if (m->size != d->size || m->chunk_sectors != d->chunk_sectors) {
		snprintf(why, len, "disk size or chunk size changed since the map was saved");
		return -ESTALE;
	}
	if (!m->counter) {
		snprintf(why, len, "the saved generation has no snapshot yet");
		return -ESTALE;
	}
	if (!strcmp(m->env.boot_id, now->boot_id))
		return same_boot(m, now, why, len);
	return other_boot(m, now, why, len);
}

/* The first line of a small text file, without its newline. */
static int read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f)
		return -errno;
	if (!fgets(out, (int)len, f))
		r = -EIO;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return r;
}

static const char *hook(const char *env, const char *dflt)
{
	const char *e = getenv(env);

	return e && *e ? e : dflt;
}

static int read_btime(int64_t *btime)
{
	FILE *f = fopen(hook("CRYPTSNAP_PROC_STAT", "/proc/stat"), "re");
	char line[256];
	long long v;
	int r = -EPROTO;

	if (!f)
		return -errno;
	while (r && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &v) == 1 && v > 0) {
			*btime = v;
			r = 0;
		}
	fclose(f);
	return r;
}

/* Fields 5 (writes completed) and 12 (discards completed) of .../stat. */
static int read_counters(dev_t dev, struct track_env *e)
{
	unsigned long long v[12];
	char path[96], line[512];
	int r;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat", major(dev), minor(dev));
	r = read_line(path, line, sizeof(line));
	if (r)
		return r;
	if (sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
		   &v[9], &v[10], &v[11]) != 12)
		return -EPROTO;
	e->writes = v[4];
	e->discards = v[11];
	return 0;
}

int track_env_read(dev_t dev, struct track_env *e)
{
	int r;

	memset(e, 0, sizeof(*e));
	r = read_line(hook("CRYPTSNAP_BOOT_ID_FILE", "/proc/sys/kernel/random/boot_id"),
		      e->boot_id, sizeof(e->boot_id));
	if (!r && !e->boot_id[0])
		r = -EPROTO;
	if (!r)
		r = read_btime(&e->btime);
	if (!r)
		r = read_counters(dev, e);
	e->now = time(NULL);
	return r;
}

static int map_path(const char *name, char *out, size_t len)
{
	if (!disk_name_valid(name))
		return -EINVAL;
	if ((size_t)snprintf(out, len, "%s/disks/%s.map", disk_state_dir(), name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int track_map_save(const char *name, const struct track_map *m)
{
	char path[DISK_PATH_MAX], tmp[DISK_PATH_MAX + 8];
	size_t len;
	uint8_t *buf;
	int r;

	r = map_path(name, path, sizeof(path));
	if (r)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	r = track_map_encode(m, &buf, &len);
	if (r)
		return r;
	unlink(tmp);	/* left by a save that died */
	r = write_file_atomic_at(AT_FDCWD, path, tmp, buf, len, WFA_EXCL);
	free(buf);
	return r;
}

static int read_all(int fd, uint8_t **out, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	size_t got = 0;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE)
		return -EUCLEAN;
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0) {
			free(buf);
			return n ? -errno : -EIO;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	return 0;
}

int track_map_take(const char *name, uint8_t **buf, size_t *len)
{
	char path[DISK_PATH_MAX];
	int fd, r;

	r = map_path(name, path, sizeof(path));
	if (r)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* Gone before it is used: a crash from here on cannot reuse it. */
	if (unlink(path))
		r = -errno;
	else
		r = fsync_parent_at(AT_FDCWD, path);
	if (!r)
		r = read_all(fd, buf, len);
	close(fd);
	return r;
}
