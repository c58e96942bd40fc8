/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_DM_LAYER_H
#define CRYPTSNAP_DM_LAYER_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The only door to libdevmapper.  Every function returns 0 or a negative
 * errno; nothing here prints except through the debug log hook.
 */

/* One target line of a table. */
struct dm_line {
	uint64_t start, len;
	char type[32];
	char *params;		/* malloc'ed; may hold key material: wipe */
};

int csdm_exists(const char *name);
int csdm_devno(const char *name, dev_t *dev);
int csdm_create(const char *name, const char *uuid, const struct dm_line *lines,
		unsigned int n);
int csdm_remove(const char *name);
/* Table of a device, with key material (caller wipes via csdm_lines_free). */
int csdm_table(const char *name, struct dm_line **lines, unsigned int *n);
int csdm_status(const char *name, struct dm_line **lines, unsigned int *n);
void csdm_lines_free(struct dm_line *lines, unsigned int n);
/* Devices the mapping sits on directly. */
int csdm_deps(const char *name, dev_t *devs, unsigned int max, unsigned int *n);
/* Name of the mapped device with this dev_t, or -ENODEV. */
int csdm_name_of(dev_t dev, char *name, size_t len);

/*
 * Replace a live device's table: load the new table as inactive, suspend
 * (flushing; the filesystem above is frozen by the kernel), resume.  On
 * failure after the load the inactive table is cleared and the device is
 * resumed with its old table, so the VM keeps running.
 */
int csdm_swap_table(const char *name, const struct dm_line *lines, unsigned int n);
int csdm_suspend(const char *name);
int csdm_resume(const char *name);

/* Send a target message; *resp (malloc'ed, may be NULL) holds the answer. */
int csdm_message(const char *name, const char *msg, char **resp);

#endif
