// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crashpoint.h"

#define CRASH_NAME_MAX 64

static struct {
	int armed;			/* either variable set */
	char at[CRASH_NAME_MAX];	/* CRYPTSNAP_CRASH_AT's name */
	unsigned long nth;		/* ... and its passage, from 1 */
	unsigned long seen;		/* passages of at so far */
	int list_fd;			/* CRYPTSNAP_CRASH_LIST, or -1 */
	int sig;			/* CRYPTSNAP_CRASH_SIGNAL: KILL or STOP */
	pthread_mutex_t mu;
} cp = { .list_fd = -1, .sig = SIGKILL, .mu = PTHREAD_MUTEX_INITIALIZER };
static pthread_once_t cp_once = PTHREAD_ONCE_INIT;

/* "name" or "name:n"; anything else arms nothing (no passage matches). */
static void parse_at(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	char *end;

	if (!len || len >= sizeof(cp.at))
		return;
	cp.nth = 1;
	if (colon) {
		cp.nth = strtoul(colon + 1, &end, 10);
		if (end == colon + 1 || *end || !cp.nth)
			return;
	}
	memcpy(cp.at, s, len);
	cp.at[len] = 0;
}

static void crashpoint_init(void)
{
	const char *at = getenv("CRYPTSNAP_CRASH_AT");
	const char *list = getenv("CRYPTSNAP_CRASH_LIST");
	const char *sig = getenv("CRYPTSNAP_CRASH_SIGNAL");

	if (at && *at)
		parse_at(at);
	if (list && *list)
		cp.list_fd = open(list, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (sig && !strcmp(sig, "STOP"))
		cp.sig = SIGSTOP;
	cp.armed = cp.at[0] || cp.list_fd >= 0;
}

/* One write(): O_APPEND keeps lines of concurrent threads whole. */
static void list_append(const char *name)
{
	char line[CRASH_NAME_MAX + 1];
	size_t len = strlen(name);

	if (len >= CRASH_NAME_MAX)
		len = CRASH_NAME_MAX - 1;
	memcpy(line, name, len);
	line[len] = '\n';
	(void)!write(cp.list_fd, line, len + 1);
}

void crashpoint(const char *name)
{
	int kill_now;

	pthread_once(&cp_once, crashpoint_init);
	if (!cp.armed)
		return;
	pthread_mutex_lock(&cp.mu);
	if (cp.list_fd >= 0)
		list_append(name);
	kill_now = cp.at[0] && !strcmp(name, cp.at) && ++cp.seen == cp.nth;
	pthread_mutex_unlock(&cp.mu);
	if (kill_now)
		raise(cp.sig);
}
