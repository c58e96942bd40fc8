/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_UNITS_H
#define CRYPTSNAP_UNITS_H

/*
 * The systemd side of `cryptsnap policy apply`: per scheduled disk NAME,
 * in a unit directory (normally ROOT/etc/systemd/system),
 *
 *   timers.target.wants/cryptsnap-backup@NAME.timer -> the template
 *   cryptsnap-backup@NAME.timer.d/cryptsnap-policy.conf   OnCalendar= etc.
 *
 * which is what `systemctl enable` plus `systemctl edit` would leave.  Only
 * these two names are ever written or removed; an admin's other drop-ins
 * stay.  ROOT is "/" on the running system or a staging tree; paths given
 * back are as seen from inside ROOT.  Errors are negative errno.
 */
#include <stddef.h>

#define UNITS_TEMPLATE		"cryptsnap-backup@.timer"
#define UNITS_DROPIN		"cryptsnap-policy.conf"
#define UNITS_WANTS		"timers.target.wants"
#define UNITS_PATH_MAX		4096

/* ROOT + path, with ROOT "/" (or "") adding nothing.  -ENAMETOOLONG. */
int units_root_path(const char *root, const char *path, char *out, size_t len);

/* Where the template timer is installed, as seen inside root: the first of
 * /etc/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system,
 * /lib/systemd/system that has it.  -ENOENT when none does. */
int units_template(const char *root, char *out, size_t len);

/* Writes the drop-in of disk's timer (OnCalendar=calendar, Persistent,
 * RandomizedDelaySec) and its timers.target.wants link to template.
 * source names the configuration line, for the drop-in's comment.  Files
 * 0644, directories 0755, each replaced atomically.  *changed: whether
 * anything differed from what was there. */
int units_timer_set(const char *unit_dir, const char *disk, const char *template,
		    const char *calendar, const char *source, int *changed);

/* Removes disk's link and drop-in (and the drop-in directory when that
 * leaves it empty).  Absent files are no error. */
/*
 * The timer's Persistent= stamp (UNITS_STAMP_DIR under root), created
 * "last run now" when systemd has none, so that starting a new timer does
 * not fire a catch-up backup at once: systemd triggers a persistent timer
 * on activation when it would have elapsed since its stamp, and with no
 * stamp that is always.  1: created, 0: kept, negative errno.
 */
#define UNITS_STAMP_DIR "/var/lib/systemd/timers"
int units_timer_stamp(const char *root, const char *disk);
/* Removes it with the timer: a schedule added again later starts afresh. */
int units_timer_stamp_remove(const char *root, const char *disk);
int units_timer_remove(const char *unit_dir, const char *disk);

/* Calls fn for every disk that has a link or a drop-in of ours under
 * unit_dir (a disk once even if it has both); stops at a non-zero return
 * and returns it.  A missing unit_dir has no disks. */
int units_timer_each(const char *unit_dir, int (*fn)(const char *disk, void *arg), void *arg);

/* 1 when ROOT/etc/crypttab has a line for mapping name, 0 when not,
 * -ENOENT when there is no crypttab, another negative errno on a read
 * error. */
int units_crypttab_has(const char *root, const char *name);

/* 1 when the running system was booted with systemd (sd_booted(3)'s test:
 * /run/systemd/system exists). */
int units_systemd_booted(void);

/* Runs "systemctl verb [unit]" and waits: 0 when it exits 0, -EIO when it
 * fails, -ENOENT when systemctl cannot be run.  Its output is inherited. */
int units_systemctl(const char *verb, const char *unit);

#endif
