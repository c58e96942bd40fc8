/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_PUTQ_H
#define CRYPTSNAP_PUTQ_H

/*
 * Asynchronous puts: a few threads take queued objects and publish them
 * with backend_put_deferred(), as many at once as the backend's
 * put_parallel (local: one writes while another fsyncs; S3: parallel
 * PUTs).  The caller bounds what is in flight by the buffers it owns: a
 * buffer is the caller's again when its done() has run.  putq_sync() is
 * the one sync point: every put finished, then backend_sync().
 */
#include <stddef.h>

#include "store/backend.h"

struct putq;

/* Runs on a putq thread after the put, err 0 or negative errno. */
typedef void (*putq_done_fn)(void *arg, int err);

/* nthreads 0: the backend's put_parallel. */
int putq_open(struct backend *b, unsigned int nthreads, struct putq **out);
/* Queues a put of buf (which must stay valid until done runs); the name
 * is copied.  Never blocks. */
int putq_submit(struct putq *q, const char *name, const void *buf, size_t len,
		putq_done_fn done, void *arg);
/* Waits for every queued put; then, if all succeeded, backend_sync().
 * Returns the first error of any put since putq_open, or of the sync. */
int putq_sync(struct putq *q);
/* Waits for queued puts (a put already failed: skips the rest, done()
 * gets -ECANCELED), joins the threads and frees q. */
void putq_close(struct putq *q);

#endif
