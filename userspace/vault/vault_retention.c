// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "vault/vault_retention.h"

int retention_policy_empty(const struct retention_policy *p)
{
	return !p->last && !p->daily && !p->weekly && !p->monthly && !p->yearly;
}

static int64_t bucket(int64_t t, unsigned int rule)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[16];
	uint64_t week;

	gmtime_r(&tt, &tm);
	switch (rule) {
	case KEEP_DAILY: return (int64_t)(tm.tm_year + 1900) * 1000 + tm.tm_yday;
	case KEEP_WEEKLY:
		if (!strftime(buf, sizeof(buf), "%G%V", &tm) ||
		    parse_u64(buf, 0, UINT32_MAX, &week))
			return t / (7 * 86400);	/* cannot happen; still a week */
		return (int64_t)week;
	case KEEP_MONTHLY: return (int64_t)(tm.tm_year + 1900) * 100 + tm.tm_mon;
	default: return tm.tm_year + 1900;
	}
}

static int newest_first(const void *a, const void *b)
{
	const struct retention_item *x = *(struct retention_item *const *)a;
	const struct retention_item *y = *(struct retention_item *const *)b;

	int c;

	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	/* Points of one second: by id, so every run picks the same ones. */
	c = strcmp(x->id ? x->id : "", y->id ? y->id : "");
	return c < 0 ? 1 : c > 0 ? -1 : 0;
}

static void apply_bucketed(struct retention_item **s, size_t n, unsigned int count,
			   unsigned int rule)
{
	int64_t last = 0;
	unsigned int kept = 0;
	size_t i;

	for (i = 0; i < n && kept < count; i++) {
		int64_t b = bucket(s[i]->created, rule);

		if (kept && b == last)
			continue;
		s[i]->keep |= rule;
		last = b;
		kept++;
	}
}

void retention_apply(const struct retention_policy *p, struct retention_item *items,
		     size_t n, int64_t now)
{
	struct retention_item **s = malloc((n ? n : 1) * sizeof(*s));
	size_t i;

	for (i = 0; i < n; i++) {
		items[i].keep = items[i].retain_until > now ? KEEP_RETAIN : 0;
		if (s)
			s[i] = &items[i];
	}
	if (!s) {
		/* Out of memory: keep everything rather than guess. */
		for (i = 0; i < n; i++)
			items[i].keep |= KEEP_LAST;
		return;
	}
	qsort(s, n, sizeof(*s), newest_first);
	for (i = 0; i < n && i < p->last; i++)
		s[i]->keep |= KEEP_LAST;
	apply_bucketed(s, n, p->daily, KEEP_DAILY);
	apply_bucketed(s, n, p->weekly, KEEP_WEEKLY);
	apply_bucketed(s, n, p->monthly, KEEP_MONTHLY);
	apply_bucketed(s, n, p->yearly, KEEP_YEARLY);
	free(s);
}
