/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_NAMES_H
#define CRYPTSNAP_NAMES_H

/*
 * Names that end up in file and object names.  A disk name is one rule for
 * the local state (sys/disk_state.h) and the vault (points, disk records),
 * so it lives below both.
 */
#include <stddef.h>

#define DISK_NAME_MAX		64

/* 1 when s has 1..max characters, each alphanumeric or in extra, and does
 * not start with '.' or '-'. */
int name_chars_ok(const char *s, size_t max, const char *extra);
/* The name of a protected disk: [A-Za-z0-9_.-], at most DISK_NAME_MAX. */
int disk_name_valid(const char *name);

/*
 * Host names as written into lock and job records and compared with this
 * machine's: lower case, no trailing dot, every character outside
 * [a-z0-9.-] (such as '_', the lock name separator) replaced by '-',
 * at most HOST_NAME_NORM_MAX characters; "unknown" when nothing is left.
 */
#define HOST_NAME_NORM_MAX	63
void host_name_normalize(const char *in, char *out, size_t len);
/* This machine's name, normalised; out holds HOST_NAME_NORM_MAX + 1. */
void host_name_self(char *out, size_t len);
/* 1 when s is already a normalised host name (what a vault may carry). */
int host_name_valid(const char *s);

#endif
