// SPDX-License-Identifier: GPL-2.0
/*
 * libdevmapper layer.  Uses udev cookies where udev runs, and lets
 * libdevmapper make /dev/mapper nodes itself where it does not (the test VM
 * sets DM_DISABLE_UDEV=1).  Tables of dm-crypt devices carry the volume
 * key, so every task that reads or writes one is marked secure (the
 * library wipes its ioctl buffers) and every copy we keep is wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <libdevmapper.h>

#include "lib/crashpoint.h"
#include "lib/secmem.h"
#include "sys/dm.h"

static void quiet_log(int level, const char *file, int line, int dm_errno,
		      const char *f, ...)
{
	/* libdevmapper chatter is not our error channel; errno is. */
}

static struct dm_task *task(int type, const char *name)
{
	static int log_set;
	struct dm_task *dmt;

	if (!log_set && !getenv("CRYPTSNAP_DM_DEBUG")) {
		dm_log_with_errno_init(quiet_log);
		log_set = 1;
	}
	dmt = dm_task_create(type);
	if (!dmt)
		return NULL;
	if (name && !dm_task_set_name(dmt, name)) {
		dm_task_destroy(dmt);
		return NULL;
	}
	return dmt;
}

/* Run a task that changes device nodes, waiting for udev if it runs. */
static int run_udev(struct dm_task *dmt)
{
	uint32_t cookie = 0;
	int ok;

	if (!dm_task_set_cookie(dmt, &cookie, 0))
		return -ENOMEM;
	ok = dm_task_run(dmt);
	dm_udev_wait(cookie);
	return ok ? 0 : (dm_task_get_errno(dmt) ? -dm_task_get_errno(dmt) : -EIO);
}

static int run(struct dm_task *dmt)
{
	if (dm_task_run(dmt))
		return 0;
	return dm_task_get_errno(dmt) ? -dm_task_get_errno(dmt) : -EIO;
}

static int info(const char *name, struct dm_info *di)
{
	struct dm_task *dmt = task(DM_DEVICE_INFO, name);
	int ret;

	if (!dmt)
		return -ENOMEM;
	ret = run(dmt);
	if (!ret && (!dm_task_get_info(dmt, di) || !di->exists))
		ret = -ENODEV;
	dm_task_destroy(dmt);
	return ret;
}

int csdm_exists(const char *name)
{
	struct dm_info di;

	return info(name, &di) == 0;
}

int csdm_devno(const char *name, dev_t *dev)
{
	struct dm_info di;
	int ret = info(name, &di);

	if (!ret)
		*dev = makedev(di.major, di.minor);
	return ret;
}

static int add_lines(struct dm_task *dmt, const struct dm_line *lines,
		     unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!dm_task_add_target(dmt, lines[i].start, lines[i].len,
					lines[i].type, lines[i].params))
			return -ENOMEM;
	return 0;
}

int csdm_create(const char *name, const char *uuid, const struct dm_line *lines,
		unsigned int n)
{
	struct dm_task *dmt = task(DM_DEVICE_CREATE, name);
	int ret;

	if (!dmt)
		return -ENOMEM;
	dm_task_secure_data(dmt);
	ret = add_lines(dmt, lines, n);
	if (!ret && uuid && !dm_task_set_uuid(dmt, uuid))
		ret = -ENOMEM;
	if (!ret)
		ret = run_udev(dmt);
	dm_task_destroy(dmt);
	return ret;
}

int csdm_remove(const char *name)
{
	struct dm_task *dmt = task(DM_DEVICE_REMOVE, name);
	int ret;

	if (!dmt)
		return -ENOMEM;
	dm_task_retry_remove(dmt);
	ret = run_udev(dmt);
	dm_task_destroy(dmt);
	return ret;
}

void csdm_lines_free(struct dm_line *lines, unsigned int n)
{
	unsigned int i;

	if (!lines)
		return;
	for (i = 0; i < n; i++) {
		secmem_free(lines[i].params);	/* wiped on free */
	}
	free(lines);
}

static int get_lines(int type, const char *name, struct dm_line **out,
		     unsigned int *n)
{
	struct dm_task *dmt = task(type, name);
	struct dm_line *lines = NULL, *l;
	uint64_t start, len;
	char *ttype, *params;
	void *next = NULL;
	unsigned int cnt = 0;
	int ret;

	if (!dmt)
		return -ENOMEM;
	dm_task_secure_data(dmt);
	ret = run(dmt);
	while (!ret) {
		next = dm_get_next_target(dmt, next, &start, &len, &ttype, &params);
		if (!ttype)
			break;
		l = realloc(lines, (cnt + 1) * sizeof(*lines));
		if (!l) {
			ret = -ENOMEM;
			break;
		}
		lines = l;
		l = &lines[cnt++];
		l->start = start;
		l->len = len;
		snprintf(l->type, sizeof(l->type), "%s", ttype);
		/* A crypt table spells out the volume key: secure memory. */
		l->params = secmem_alloc(strlen(params ? params : "") + 1);
		if (l->params)
			memcpy(l->params, params ? params : "", strlen(params ? params : "") + 1);
		else
			ret = -ENOMEM;
		if (!next)
			break;
	}
	dm_task_destroy(dmt);
	if (ret) {
		csdm_lines_free(lines, cnt);
		return ret;
	}
	if (!cnt)
		return -ENODEV;
	*out = lines;
	*n = cnt;
	return 0;
}

int csdm_table(const char *name, struct dm_line **lines, unsigned int *n)
{
	return get_lines(DM_DEVICE_TABLE, name, lines, n);
}

int csdm_status(const char *name, struct dm_line **lines, unsigned int *n)
{
	return get_lines(DM_DEVICE_STATUS, name, lines, n);
}

int csdm_deps(const char *name, dev_t *devs, unsigned int max, unsigned int *n)
{
	struct dm_task *dmt = task(DM_DEVICE_DEPS, name);
	struct dm_deps *deps;
	unsigned int i;
	int ret;

	if (!dmt)
		return -ENOMEM;
	ret = run(dmt);
	if (!ret) {
		deps = dm_task_get_deps(dmt);
		if (!deps)
			ret = -ENODEV;
		else if (deps->count > max)
			ret = -E2BIG;
		else {
			for (i = 0; i < deps->count; i++)
				devs[i] = (dev_t)deps->device[i];
			*n = deps->count;
		}
	}
	dm_task_destroy(dmt);
	return ret;
}

int csdm_name_of(dev_t dev, char *name, size_t len)
{
	struct dm_task *dmt = task(DM_DEVICE_INFO, NULL);
	const char *nm;
	int ret;

	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_major_minor(dmt, (int)major(dev), (int)minor(dev), 0)) {
		dm_task_destroy(dmt);
		return -EINVAL;
	}
	ret = run(dmt);
	if (!ret) {
		struct dm_info di;

		nm = dm_task_get_name(dmt);
		if (!dm_task_get_info(dmt, &di) || !di.exists || !nm)
			ret = -ENODEV;
		else if ((size_t)snprintf(name, len, "%s", nm) >= len)
			ret = -ENAMETOOLONG;
	}
	dm_task_destroy(dmt);
	return ret;
}

static int simple(int type, const char *name)
{
	struct dm_task *dmt = task(type, name);
	int ret;

	if (!dmt)
		return -ENOMEM;
	ret = type == DM_DEVICE_RESUME ? run_udev(dmt) : run(dmt);
	dm_task_destroy(dmt);
	return ret;
}

int csdm_suspend(const char *name)
{
	return simple(DM_DEVICE_SUSPEND, name);
}

int csdm_resume(const char *name)
{
	return simple(DM_DEVICE_RESUME, name);
}

static int load(const char *name, const struct dm_line *lines, unsigned int n)
{
	struct dm_task *dmt = task(DM_DEVICE_RELOAD, name);
	int ret;

	if (!dmt)
		return -ENOMEM;
	dm_task_secure_data(dmt);
	ret = add_lines(dmt, lines, n);
	if (!ret)
		ret = run(dmt);
	dm_task_destroy(dmt);
	return ret;
}

int csdm_swap_table(const char *name, const struct dm_line *lines, unsigned int n)
{
	int ret;

	ret = load(name, lines, n);
	if (ret)
		return ret;
	ret = csdm_suspend(name);
	if (ret) {
		simple(DM_DEVICE_CLEAR, name);
		return ret;
	}
	ret = csdm_resume(name);
	if (ret) {
		/* Resume failed with the new table: go back to the old one. */
		simple(DM_DEVICE_CLEAR, name);
		csdm_resume(name);
	}
	return ret;
}

int csdm_message(const char *name, const char *msg, char **resp)
{
	struct dm_task *dmt = task(DM_DEVICE_TARGET_MSG, name);
	const char *r;
	int ret;

	if (resp)
		*resp = NULL;
	if (!dmt)
		return -ENOMEM;
	if (!dm_task_set_sector(dmt, 0) || !dm_task_set_message(dmt, msg)) {
		dm_task_destroy(dmt);
		return -ENOMEM;
	}
	ret = run(dmt);
	if (!ret)
		crashpoint("dm.message-sent");
	if (!ret && resp) {
		r = dm_task_get_message_response(dmt);
		if (r && *r && !(*resp = strdup(r)))
			ret = -ENOMEM;
	}
	dm_task_destroy(dmt);
	return ret;
}
