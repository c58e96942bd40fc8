// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/names.h"
#include "lib/util.h"
#include "sys/disk_lock.h"
#include "sys/disk_state.h"

static int lock_path(const char *name, char *out, size_t len)
{
	if (!disk_name_valid(name))
		return -EINVAL;
	if ((size_t)snprintf(out, len, "%s/disks/%s.lock", disk_state_dir(), name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* The pid holding a flock on (dev, ino) according to /proc/locks; 0 if
 * none is listed.  Lines: "1: FLOCK  ADVISORY  WRITE 1234 08:02:5678 0 EOF". */
static pid_t proc_locks_holder(dev_t dev, ino_t ino)
{
	char line[256], want[64];
	pid_t pid = 0;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "%02x:%02x:%" PRIu64, major(dev), minor(dev), (uint64_t)ino);
	while (!pid && fgets(line, sizeof(line), f)) {
		char *tok[6], *save = NULL, *p = line;
		int n;

		if (strstr(line, "->"))	/* a waiter, not the holder */
			continue;
		for (n = 0; n < 6 && (tok[n] = strtok_r(p, " \t\n", &save)); n++)
			p = NULL;
		if (n == 6 && !strcmp(tok[1], "FLOCK") && !strcmp(tok[5], want)) {
			uint64_t v;

			if (!parse_u64(tok[4], 1, INT32_MAX, &v))
				pid = (pid_t)v;
		}
	}
	fclose(f);
	return pid;
}

/* The pid the holder wrote into the file; 0 if none readable. */
static pid_t file_holder(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t v;

	if (n <= 0)
		return 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return parse_u64(buf, 1, INT32_MAX, &v) ? 0 : (pid_t)v;
}

static int open_lock(const char *p, int *fd)
{
	struct stat st;

	*fd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		close(*fd);
		*fd = -1;
		return -EPERM;
	}
	return 0;
}

int disk_lock(const char *name, int *fd, pid_t *holder)
{
	char p[DISK_PATH_MAX], pid[24];
	struct stat a, b;
	int r, tries;

	*fd = -1;
	*holder = 0;
	r = lock_path(name, p, sizeof(p));
	if (!r)
		r = disk_state_prepare();
	/* unprotect removes the file while holding it: a lock taken on a
	 * removed file is no lock, so retry on the new one. */
	for (tries = 0; !r && tries < 8; tries++) {
		r = open_lock(p, fd);
		if (r)
			break;
		if (flock(*fd, LOCK_EX | LOCK_NB)) {
			r = errno == EWOULDBLOCK ? -EBUSY : -errno;
			if (r == -EBUSY && !fstat(*fd, &a)) {
				*holder = proc_locks_holder(a.st_dev, a.st_ino);
				if (!*holder)
					*holder = file_holder(*fd);
			}
			break;
		}
		if (!fstat(*fd, &a) && !stat(p, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			/* The flock is what holds; the pid is for humans. */
			snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
			if (!ftruncate(*fd, 0))
				(void)!write_full(*fd, pid, strlen(pid));
			return 0;
		}
		close(*fd);
		*fd = -1;
	}
	if (!r)
		r = -EAGAIN;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return r;
}

void disk_unlock(int fd)
{
	if (fd < 0)
		return;
	/* A pid left behind would name a process that no longer holds it. */
	(void)!ftruncate(fd, 0);
	close(fd);
}

void disk_unlock_remove(const char *name, int fd)
{
	char p[DISK_PATH_MAX];

	if (fd >= 0 && !lock_path(name, p, sizeof(p)))
		unlink(p);
	disk_unlock(fd);
}
