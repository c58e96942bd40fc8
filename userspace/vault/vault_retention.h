/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_VAULT_RETENTION_H
#define CRYPTSNAP_VAULT_RETENTION_H

/*
 * Retention rules, a pure function over one disk's points.  A point is
 * kept when any rule keeps it:
 *   keep_last N       the N newest points;
 *   keep_daily N      the newest point of each of the N newest days that
 *                     have points (likewise weekly (ISO week), monthly,
 *                     yearly); calendar in UTC;
 *   retain_until      a point whose retain-until lies in the future is
 *                     always kept, whatever the rules say.
 */
#include <stddef.h>
#include <stdint.h>

struct retention_policy {
	unsigned int last, daily, weekly, monthly, yearly;
};

enum {
	KEEP_LAST = 1 << 0,
	KEEP_DAILY = 1 << 1,
	KEEP_WEEKLY = 1 << 2,
	KEEP_MONTHLY = 1 << 3,
	KEEP_YEARLY = 1 << 4,
	KEEP_RETAIN = 1 << 5,
};

/* Items are ordered by created, then by id: of two points of the same
 * second the one with the greater id counts as the newer. */
struct retention_item {
	const char *id;		/* NULL sorts as "" */
	int64_t created;
	int64_t retain_until;
	unsigned int keep;	/* out: KEEP_* reasons, 0 = remove */
};

int retention_policy_empty(const struct retention_policy *p);
/* Items in any order; sets each item's keep mask. */
void retention_apply(const struct retention_policy *p, struct retention_item *items,
		     size_t n, int64_t now);

#endif
