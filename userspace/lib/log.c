// SPDX-License-Identifier: GPL-2.0
/* syslog(3) of events (log.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

int log_enabled(void)
{
	const char *e = getenv("CRYPTSNAP_SYSLOG");

	return !(e && !strcmp(e, "0"));
}

void log_event(int prio, const char *fmt, ...)
{
	static int opened;
	va_list ap;

	if (!log_enabled())
		return;
	if (!opened) {
		openlog("cryptsnap", LOG_PID, LOG_DAEMON);
		opened = 1;
	}
	va_start(ap, fmt);
	vsyslog(prio, fmt, ap);
	va_end(ap);
}
