/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CONFIG_H
#define CRYPTSNAP_CONFIG_H

/*
 * /etc/cryptsnap/cryptsnap.conf: the only libinih user.  The format, in
 * etc/cryptsnap.conf and man/cryptsnap.8, "CONFIGURATION":
 *
 *   [defaults]            settings for every disk
 *   [disk "NAME"]         settings of protected disk NAME, over [defaults]
 *   key = value           vault, kek, cow-dir, cow-size, chunk-size,
 *                         schedule, keep-last/daily/weekly/monthly/yearly,
 *                         pre-freeze, post-thaw; s3-endpoint, s3-region,
 *                         s3-access-key-id, s3-secret-access-key,
 *                         s3-ca-bundle, s3-addressing (read from
 *                         [defaults] by the S3 backend, below AWS_*);
 *                         deleted-grace (days prune keeps deleted points)
 *
 * Strict: an unknown section or key, a key set twice, a bad value, a line
 * that is not a section, a "key = value" or a comment, and a file group-
 * or world-writable (it names programs run as root) are errors.  Every
 * error is collected with its line, "FILE:LINE: message"; nothing prints.
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/names.h"

#define CONFIG_DEFAULT_PATH	"/etc/cryptsnap/cryptsnap.conf"

enum config_key {
	CFG_VAULT = 1 << 0,
	CFG_KEK = 1 << 1,
	CFG_COW_DIR = 1 << 2,
	CFG_COW_SIZE = 1 << 3,
	CFG_CHUNK_SIZE = 1 << 4,
	CFG_SCHEDULE = 1 << 5,
	CFG_KEEP_LAST = 1 << 6,
	CFG_KEEP_DAILY = 1 << 7,
	CFG_KEEP_WEEKLY = 1 << 8,
	CFG_KEEP_MONTHLY = 1 << 9,
	CFG_KEEP_YEARLY = 1 << 10,
	CFG_PRE_FREEZE = 1 << 11,
	CFG_POST_THAW = 1 << 12,
	CFG_S3_ENDPOINT = 1 << 13,
	CFG_S3_REGION = 1 << 14,
	CFG_S3_KEY_ID = 1 << 15,
	CFG_S3_SECRET = 1 << 16,
	CFG_S3_CA = 1 << 17,
	CFG_S3_ADDRESSING = 1 << 18,
	CFG_DELETED_GRACE = 1 << 19,
};

enum config_sched_kind { SCHED_UNSET, SCHED_MANUAL, SCHED_DAILY, SCHED_WEEKLY };

struct config_schedule {
	enum config_sched_kind kind;
	uint8_t days;		/* SCHED_WEEKLY: bit 0 Monday .. bit 6 Sunday */
	uint8_t hour, minute;
};

/* One section: [defaults] (name "") or [disk "NAME"].  set says which
 * keys it gave; strings are owned by the struct config. */
struct config_section {
	char name[DISK_NAME_MAX + 1];
	int line;
	unsigned int set;
	char *vault, *kek, *cow_dir, *pre_freeze, *post_thaw;
	char *s3_endpoint, *s3_region, *s3_key_id, *s3_secret, *s3_ca, *s3_addressing;
	uint64_t cow_size;
	uint32_t chunk_size;
	struct config_schedule schedule;
	unsigned int keep_last, keep_daily, keep_weekly, keep_monthly, keep_yearly;
	unsigned int deleted_grace;	/* days */
};

struct config {
	char path[4096];
	int found;			/* 0: the file does not exist */
	struct config_section defaults;
	struct config_section *disks;
	size_t ndisks;
	char **errors;			/* "FILE:LINE: message" */
	size_t nerrors;
};

/* $CRYPTSNAP_CONFIG if set and not empty, else CONFIG_DEFAULT_PATH. */
const char *config_path(void);

/*
 * Parses path into c (zeroed first; config_free() it in every case).
 * 0: parsed without error, or the file does not exist and must_exist is 0
 * (c->found = 0, everything unset).  -EINVAL: c->errors lists every error.
 * Other negative errno: the file cannot be read (also in c->errors).
 */
int config_load(const char *path, int must_exist, struct config *c);
/* The same over text in memory; name stands for the file in messages. */
int config_load_string(const char *name, const char *text, struct config *c);
void config_free(struct config *c);

/*
 * The systemd OnCalendar= value of a schedule: "*-*-* 02:30:00" for
 * daily, "Mon,Thu *-*-* 01:00:00" for weekly (days in week order).
 * -ENOENT: manual or unset (no timer); -EINVAL: a field out of range (no
 * day, a day bit past Sunday, an hour past 23 or a minute past 59);
 * -ENAMETOOLONG: buf too small (CONFIG_CALENDAR_MAX always suffices).
 */
#define CONFIG_CALENDAR_MAX	48
int config_schedule_calendar(const struct config_schedule *s, char *buf, size_t len);

/* The section of disk name, or NULL. */
const struct config_section *config_disk_section(const struct config *c, const char *name);
/* The effective settings of disk name: its section's keys over [defaults].
 * Strings point into c. */
void config_for_disk(const struct config *c, const char *name, struct config_section *out);

#endif
