/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_CRASHPOINT_H
#define CRYPTSNAP_CRASHPOINT_H

/*
 * Named commit points for the kill -9 fault suite (tests/faults/kill.sh,
 * docs/reliability.md).  crashpoint("name") sits right after a durable
 * step: an fsync, a rename or link that publishes an object, a delete, a
 * lock taken or released, a journal write, a message to the kernel.
 *
 *   CRYPTSNAP_CRASH_AT=name[:n]  the n-th passage (default 1) of name
 *                                kills the process with SIGKILL
 *   CRYPTSNAP_CRASH_LIST=FILE    every passage appends "name\n" to FILE
 *   CRYPTSNAP_CRASH_SIGNAL=STOP  that passage stops the process instead
 *                                (SIGSTOP; the concurrency tests run a
 *                                rival command, then send SIGCONT)
 *
 * Always compiled in: without either variable a passage costs one load
 * (the environment is read once).  Names are [a-z0-9.-]; the suite finds
 * them with CRYPTSNAP_CRASH_LIST, so a new crashpoint() is tested without
 * a change to the suite.
 */
void crashpoint(const char *name);

#endif
