/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_LOG_H
#define CRYPTSNAP_LOG_H

/*
 * The system log: one line per event that an admin reads back later (a
 * job started, finished or failed; a key escrowed or rotated; a disk
 * protected or unprotected; points pruned), through syslog(3) as
 * "cryptsnap[PID]", facility LOG_DAEMON, so the journal has them too.
 * This is in addition to what the command prints, never instead.
 * CRYPTSNAP_SYSLOG=0 turns it off (tests); nothing here fails a command.
 *
 * Lines are "EVENT key=value ...": the event first, then what it is about
 * (disk=, point=, job=), then numbers (bytes=, duration=) and last
 * result= (ok, or the reason).  Values are written as given; callers pass
 * names and messages without newlines (syslog drops control characters).
 */
#include <syslog.h>

/* 0 when CRYPTSNAP_SYSLOG is "0", else 1. */
int log_enabled(void);
void log_event(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
