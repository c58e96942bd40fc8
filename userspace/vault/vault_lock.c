// SPDX-License-Identifier: GPL-2.0
/*
 * Vault locks as objects "locks/<host>_<pid>_<rand>.<kind>", so they work
 * on object stores too.  Protocol: publish our lock, then list; on a
 * conflict remove ours and fail with -EBUSY.  A lock of a dead process on
 * this host is stale and removed.
 *
 * Lock names come from the vault, which is not trusted: a name is used
 * (obeyed, deleted, shown) only when it parses exactly, so it can name no
 * other object and carries no path component or control character.
 *
 * A lock is a lease (issue 17): its body {"time":T,"expires":E} says until
 * when it holds, and a thread of the holder rewrites it with a later E
 * every third of the lease.  A lock whose lease ran out is stale whatever
 * host took it (its writer crashed or lost the store), so a writer on
 * another machine takes over; a lock without "expires" (older tools) is
 * never guessed dead.  There is no conditional PUT on every store (Swift),
 * so two takers may race: each publishes its own lock, then lists, and
 * backs off on seeing the other, so at most one proceeds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/crashpoint.h"
#include "lib/crypto.h"
#include "lib/names.h"
#include "lib/util.h"
#include "vault/vault.h"

#define LOCKS "locks/"
#define LOCK_BODY_MAX 64
#define LEASE_DEFAULT 600	/* seconds */

struct vault_lock {
	char name[sizeof(LOCKS) + VAULT_LOCK_NAME_MAX];
	struct backend *be;
	int64_t taken, lease;
	pthread_t renewer;
	pthread_mutex_t mu;
	pthread_cond_t stop_cond;
	int stop, renewing;
};

/* $CRYPTSNAP_LOCK_LEASE seconds (2 .. 1 day), else LEASE_DEFAULT. */
static int64_t lease_seconds(void)
{
	const char *e = getenv("CRYPTSNAP_LOCK_LEASE");
	uint64_t v;

	if (e && !parse_u64(e, 2, 86400, &v))
		return (int64_t)v;
	return LEASE_DEFAULT;
}

static int hex16_ok(const char *s, size_t n)
{
	size_t i;

	if (n != 16)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

int vault_lock_name_parse(const char *name, struct vault_lock_info *out)
{
	const char *us1, *us2, *dot;
	char pid[16];
	uint64_t v;

	memset(out, 0, sizeof(*out));
	out->time = -1;
	if (strlen(name) >= VAULT_LOCK_NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	us1 = strchr(name, '_');
	us2 = us1 ? strchr(us1 + 1, '_') : NULL;
	dot = us2 ? strchr(us2 + 1, '.') : NULL;
	if (!dot || (size_t)(us1 - name) >= sizeof(out->host) ||
	    (size_t)(us2 - us1 - 1) >= sizeof(pid) || !hex16_ok(us2 + 1, (size_t)(dot - us2 - 1)))
		return -EINVAL;
	if (strcmp(dot, ".shared") && strcmp(dot, ".exclusive"))
		return -EINVAL;
	memcpy(out->host, name, (size_t)(us1 - name));
	out->host[us1 - name] = 0;
	memcpy(pid, us1 + 1, (size_t)(us2 - us1 - 1));
	pid[us2 - us1 - 1] = 0;
	if (!host_name_valid(out->host) || parse_u64(pid, 1, INT32_MAX, &v))
		return -EINVAL;
	out->pid = (long)v;
	out->exclusive = !strcmp(dot, ".exclusive");
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

/* A lock body, exactly {"time":T} or {"time":T,"expires":E}: *time = T
 * (-1 when malformed), *expires = E (0 when absent or malformed). */
static void lock_body_parse(char *text, int64_t *time, int64_t *expires)
{
	const char *pre = "{\"time\":", *mid = ",\"expires\":";
	char *e;
	uint64_t t, x;

	*time = -1;
	*expires = 0;
	if (strncmp(text, pre, strlen(pre)) || !*text || text[strlen(text) - 1] != '}')
		return;
	text[strlen(text) - 1] = 0;
	e = strstr(text, mid);
	if (e) {
		*e = 0;
		if (!parse_u64(e + strlen(mid), 0, INT64_MAX, &x))
			*expires = (int64_t)x;
	}
	if (!parse_u64(text + strlen(pre), 0, INT64_MAX, &t))
		*time = (int64_t)t;
	if (*time < 0)
		*expires = 0;
}

static void lock_read(struct vault *v, const char *obj, int64_t *time, int64_t *expires)
{
	char text[LOCK_BODY_MAX + 1];
	void *buf = NULL;
	size_t len = 0;

	*time = -1;
	*expires = 0;
	if (backend_get(v->be, obj, LOCK_BODY_MAX, &buf, &len) < 0)
		return;
	memcpy(text, buf, MIN(len, (size_t)LOCK_BODY_MAX));
	text[MIN(len, (size_t)LOCK_BODY_MAX)] = 0;
	free(buf);
	lock_body_parse(text, time, expires);
}

static int64_t lock_time(struct vault *v, const char *obj)
{
	int64_t t, x;

	lock_read(v, obj, &t, &x);
	return t;
}

/* Its process is gone (this host) or its lease ran out (any host). */
static int lock_stale(struct vault *v, const char *obj, const struct vault_lock_info *li)
{
	int64_t t, x;

	if (pid_stale(li->host, li->pid))
		return 1;
	lock_read(v, obj, &t, &x);
	return x > 0 && x < (int64_t)time(NULL);
}

static void lock_info_fill(struct vault *v, const char *obj, struct vault_lock_info *li)
{
	char me[HOST_NAME_NORM_MAX + 1];

	host_name_self(me, sizeof(me));
	li->local = !strcmp(li->host, me);
	li->stale = lock_stale(v, obj, li);
	li->time = lock_time(v, obj);
}

/*
 * Locks this process released: deleted, but a listing may still show them
 * for a while (Swift updates container listings after the delete), and
 * prune, releasing its shared lock and then taking the exclusive one for
 * GC, deferred its own GC to itself.  Their names are unique per taking
 * (host, pid and a random part), so one found here is never a conflict.
 */
#define RELEASED_KEEP	8
static char released[RELEASED_KEEP][sizeof(LOCKS) + VAULT_LOCK_NAME_MAX];
static unsigned int released_next;
static pthread_mutex_t released_mu = PTHREAD_MUTEX_INITIALIZER;

static void released_add(const char *name)
{
	pthread_mutex_lock(&released_mu);
	snprintf(released[released_next++ % RELEASED_KEEP], sizeof(released[0]), "%s", name);
	pthread_mutex_unlock(&released_mu);
}

static int released_has(const char *name)
{
	unsigned int i;
	int found = 0;

	pthread_mutex_lock(&released_mu);
	for (i = 0; i < RELEASED_KEEP && !found; i++)
		found = released[i][0] && !strcmp(released[i], name);
	pthread_mutex_unlock(&released_mu);
	return found;
}

static int conflicts(const struct vault_lock_info *li, int kind)
{
	return li->exclusive || kind == VAULT_LOCK_EXCLUSIVE;
}

/*
 * Walks the live locks other than ours: stale ones are removed on the way.
 * With out, stops at the first conflicting one and fills it in.  Returns
 * -EBUSY on a conflict.
 */
static int lock_check(struct vault *v, const char *ours, int kind, struct vault_lock_info *out)
{
	struct name_list l = { 0 };
	size_t i;
	int r = backend_list(v->be, LOCKS, &l);

	for (i = 0; !r && i < l.n; i++) {
		struct vault_lock_info li;
		const char *obj = l.names[i];

		if ((ours && !strcmp(obj, ours)) || released_has(obj))
			continue;
		if (strncmp(obj, LOCKS, strlen(LOCKS)) ||
		    vault_lock_name_parse(obj + strlen(LOCKS), &li) < 0)
			continue;	/* not a lock: neither obeyed nor deleted */
		if (lock_stale(v, obj, &li)) {
			if (!backend_del(v->be, obj))
				crashpoint("lock.stale-removed");
			continue;
		}
		if (!conflicts(&li, kind))
			continue;
		r = -EBUSY;
		if (out) {
			lock_info_fill(v, obj, &li);
			*out = li;
		}
	}
	name_list_free(&l);
	return r;
}

static int lease_write(struct vault_lock *lk)
{
	char body[LOCK_BODY_MAX];

	snprintf(body, sizeof(body), "{\"time\":%lld,\"expires\":%lld}",
		 (long long)lk->taken, (long long)time(NULL) + lk->lease);
	return backend_put(lk->be, lk->name, body, strlen(body));
}

/* Rewrites the lease every third of it until vault_lock_release().  A
 * failed renewal is retried at the next tick; the lease covers two. */
static void *renew_main(void *arg)
{
	struct vault_lock *lk = arg;
	struct timespec until;

	pthread_mutex_lock(&lk->mu);
	while (!lk->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += lk->lease / 3;
		while (!lk->stop && pthread_cond_timedwait(&lk->stop_cond, &lk->mu, &until) != ETIMEDOUT)
			;
		if (lk->stop)
			break;
		pthread_mutex_unlock(&lk->mu);
		lease_write(lk);
		pthread_mutex_lock(&lk->mu);
	}
	pthread_mutex_unlock(&lk->mu);
	return NULL;
}

static void lease_stop(struct vault_lock *lk)
{
	if (!lk->renewing)
		return;
	pthread_mutex_lock(&lk->mu);
	lk->stop = 1;
	pthread_cond_signal(&lk->stop_cond);
	pthread_mutex_unlock(&lk->mu);
	pthread_join(lk->renewer, NULL);
	lk->renewing = 0;
}

static void lock_free(struct vault_lock *lk)
{
	lease_stop(lk);
	pthread_cond_destroy(&lk->stop_cond);
	pthread_mutex_destroy(&lk->mu);
	free(lk);
}

int vault_lock(struct vault *v, int kind)
{
	struct vault_lock *lk;
	char host[HOST_NAME_NORM_MAX + 1], hex[17];
	uint8_t rnd[8];
	int r;

	if (v->lock)
		return -EALREADY;
	lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	host_name_self(host, sizeof(host));
	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(lk->name, sizeof(lk->name), LOCKS "%s_%d_%s.%s", host, (int)getpid(),
		 hex, kind == VAULT_LOCK_EXCLUSIVE ? "exclusive" : "shared");
	lk->be = v->be;
	lk->taken = (int64_t)time(NULL);
	lk->lease = lease_seconds();
	pthread_mutex_init(&lk->mu, NULL);
	pthread_cond_init(&lk->stop_cond, NULL);
	r = lease_write(lk);
	if (!r)
		r = lock_check(v, lk->name, kind, NULL);
	if (!r)
		r = pthread_create(&lk->renewer, NULL, renew_main, lk) ? -EAGAIN : 0;
	if (r < 0) {
		backend_del(v->be, lk->name);
		lock_free(lk);
		return r;
	}
	lk->renewing = 1;
	v->lock = lk;
	crashpoint("lock.taken");
	return 0;
}

void vault_lock_release(struct vault *v)
{
	if (!v->lock)
		return;
	lease_stop(v->lock);	/* no renewal after the delete */
	if (!backend_del(v->be, v->lock->name)) {
		released_add(v->lock->name);
		crashpoint("lock.released");
	}
	lock_free(v->lock);
	v->lock = NULL;
}

int vault_lock_blocker(struct vault *v, int kind, struct vault_lock_info *out)
{
	int r = lock_check(v, v->lock ? v->lock->name : NULL, kind, out);

	return r == -EBUSY ? 0 : r < 0 ? r : -ENOENT;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vault_lock_info *)a)->name,
		      ((const struct vault_lock_info *)b)->name);
}

int vault_lock_list(struct vault *v, struct vault_lock_info **out, size_t *n, size_t *bad)
{
	struct name_list l = { 0 };
	struct vault_lock_info *a;
	size_t i;
	int r = backend_list(v->be, LOCKS, &l);

	*out = NULL;
	*n = *bad = 0;
	if (r)
		return r;
	a = calloc(l.n ? l.n : 1, sizeof(*a));
	if (!a) {
		name_list_free(&l);
		return -ENOMEM;
	}
	for (i = 0; i < l.n; i++) {
		const char *obj = l.names[i];

		if (strncmp(obj, LOCKS, strlen(LOCKS)) ||
		    vault_lock_name_parse(obj + strlen(LOCKS), &a[*n]) < 0) {
			(*bad)++;
			continue;
		}
		lock_info_fill(v, obj, &a[(*n)++]);
	}
	name_list_free(&l);
	qsort(a, *n, sizeof(*a), by_name);
	*out = a;
	return 0;
}

int vault_lock_break(struct vault *v, const char *name)
{
	char obj[sizeof(LOCKS) + VAULT_LOCK_NAME_MAX];
	struct vault_lock_info li;
	struct name_list l = { 0 };
	size_t i;
	int r;

	if (vault_lock_name_parse(name, &li) < 0)
		return -EINVAL;
	snprintf(obj, sizeof(obj), LOCKS "%s", name);
	if (v->lock && !strcmp(v->lock->name, obj))
		return -EBUSY;
	r = backend_list(v->be, LOCKS, &l);
	for (i = 0; !r && i < l.n && strcmp(l.names[i], obj); i++)
		;
	if (!r && i == l.n)
		r = -ENOENT;
	name_list_free(&l);
	if (!r)
		r = backend_del(v->be, obj);
	if (!r)
		crashpoint("lock.broken");
	return r;
}
