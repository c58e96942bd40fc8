// SPDX-License-Identifier: GPL-2.0
/* The highest catalogue counter this host saw per vault (vault_seen.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/fsutil.h"
#include "lib/util.h"
#include "lib/vjson.h"
#include "sys/disk_state.h"
#include "sys/vault_seen.h"

#define SEEN_MAX	4096

static int dir_of(const char *id, char *out, size_t len)
{
	size_t i, n = strlen(id);

	if (n != 32)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", id[i]))
			return -EINVAL;
	if ((size_t)snprintf(out, len, "%s/vaults/%s", disk_state_dir(), id) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int vault_seen_get(const char *vault_id_hex, uint64_t *counter)
{
	char path[DISK_PATH_MAX], buf[SEEN_MAX];
	json_object *o = NULL;
	ssize_t n;
	int fd, r;

	*counter = 0;
	r = dir_of(vault_id_hex, path, sizeof(path));
	if (r < 0)
		return r;
	strncat(path, "/catalogue.json", sizeof(path) - strlen(path) - 1);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n == sizeof(buf))
		return n < 0 ? -errno : -EUCLEAN;
	r = vj_parse(buf, (size_t)n, &o);
	if (!r)
		r = vj_u64(o, "counter", counter);
	json_object_put(o);
	return r;
}

int vault_seen_put(const char *vault_id_hex, uint64_t counter)
{
	char dir[DISK_PATH_MAX], tmp[64], *s;
	json_object *o;
	uint64_t old;
	size_t len;
	int r, dfd;

	r = vault_seen_get(vault_id_hex, &old);
	if (r < 0 || old >= counter)
		return r;
	r = dir_of(vault_id_hex, dir, sizeof(dir));
	if (!r)
		r = mkdir_p(dir);
	if (r < 0)
		return r;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return -errno;
	/* Two commands at once: the higher counter wins. */
	r = flock(dfd, LOCK_EX) < 0 ? -errno : vault_seen_get(vault_id_hex, &old);
	if (r < 0 || old >= counter) {
		close(dfd);
		return r;
	}
	o = json_object_new_object();
	json_object_object_add(o, "counter", json_object_new_int64((int64_t)counter));
	r = vj_dump(o, &s, &len);
	json_object_put(o);
	snprintf(tmp, sizeof(tmp), ".catalogue.json.%d", (int)getpid());
	if (!r) {
		r = write_file_atomic_at(dfd, "catalogue.json", tmp, s, len, 0);
		if (!r)
			crashpoint("seen.counter-written");
		free(s);
	}
	close(dfd);
	return r;
}
