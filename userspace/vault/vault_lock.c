// SPDX-License-Identifier: GPL-2.0
/*
 * Vault locks as objects "locks/<host>_<pid>_<rand>.<kind>", so they work
 * on object stores too.  Protocol: publish our lock, then list; on a
 * conflict remove ours and fail with -EBUSY.  A lock of a dead process on
 * this host is stale and removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault.h"

struct vault_lock {
	char name[160];
};

static int lock_parse(const char *name, char *host, size_t hlen, long *pid, int *excl)
{
	const char *base = name + strlen("locks/");
	const char *us1 = strchr(base, '_'), *us2, *dot = strrchr(base, '.');

	if (!us1 || !dot)
		return -EUCLEAN;
	us2 = strchr(us1 + 1, '_');
	if (!us2 || (size_t)(us1 - base) >= hlen)
		return -EUCLEAN;
	snprintf(host, hlen, "%.*s", (int)(us1 - base), base);
	*pid = strtol(us1 + 1, NULL, 10);
	*excl = !strcmp(dot, ".exclusive");
	return 0;
}

static int lock_stale(const char *name, int *excl)
{
	char host[128];
	long pid;

	if (lock_parse(name, host, sizeof(host), &pid, excl) < 0)
		return 1;
	return pid_stale(host, pid);	/* another host: cannot tell; assume live */
}

/* Returns -EBUSY if a live lock other than ours conflicts with kind. */
static int lock_check(struct vault *v, const char *ours, int kind)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, "locks/", &l);

	for (i = 0; !r && i < l.n; i++) {
		int excl = 0;

		if (!strcmp(l.names[i], ours))
			continue;
		if (lock_stale(l.names[i], &excl)) {
			backend_del(v->be, l.names[i]);
			continue;
		}
		if (excl || kind == VAULT_LOCK_EXCLUSIVE)
			r = -EBUSY;
	}
	name_list_free(&l);
	return r;
}

int vault_lock(struct vault *v, int kind)
{
	struct vault_lock *lk;
	char host[64] = "", hex[17], body[64];
	uint8_t rnd[8];
	int r;

	if (v->lock)
		return -EALREADY;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (*p == '_' || *p == '/')
			*p = '-';
	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(lk->name, sizeof(lk->name), "locks/%s_%d_%s.%s", host, (int)getpid(),
		 hex, kind == VAULT_LOCK_EXCLUSIVE ? "exclusive" : "shared");
	snprintf(body, sizeof(body), "{\"time\":%lld}", (long long)time(NULL));
	r = backend_put(v->be, lk->name, body, strlen(body));
	if (!r)
		r = lock_check(v, lk->name, kind);
	if (r < 0) {
		backend_del(v->be, lk->name);
		free(lk);
		return r;
	}
	v->lock = lk;
	return 0;
}

void vault_lock_release(struct vault *v)
{
	if (!v->lock)
		return;
	backend_del(v->be, v->lock->name);
	free(v->lock);
	v->lock = NULL;
}
