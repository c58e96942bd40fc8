// SPDX-License-Identifier: GPL-2.0
/* Asynchronous puts through a small thread pool (store/putq.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "store/putq.h"

#define PUTQ_MAX_THREADS	16

struct put_job {
	struct put_job *next;
	char *name;
	const void *buf;
	size_t len;
	putq_done_fn done;
	void *arg;
};

struct putq {
	struct backend *be;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	struct put_job *head, *tail;
	unsigned int busy, nthreads;
	int stop, err;
	pthread_t threads[PUTQ_MAX_THREADS];
};

static struct put_job *pop(struct putq *q)
{
	struct put_job *j;

	while (!q->head && !q->stop)
		pthread_cond_wait(&q->work, &q->mu);
	j = q->head;
	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->busy++;
	}
	return j;
}

static void *putq_main(void *arg)
{
	struct putq *q = arg;
	struct put_job *j;
	int r;

	pthread_mutex_lock(&q->mu);
	while ((j = pop(q))) {
		r = q->err ? -ECANCELED : 0;
		pthread_mutex_unlock(&q->mu);
		if (!r)
			r = backend_put_deferred(q->be, j->name, j->buf, j->len);
		j->done(j->arg, r);
		free(j->name);
		free(j);
		pthread_mutex_lock(&q->mu);
		if (r < 0 && !q->err)
			q->err = r;
		q->busy--;
		if (!q->head && !q->busy)
			pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void stop_threads(struct putq *q, unsigned int n)
{
	unsigned int i;

	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < n; i++)
		pthread_join(q->threads[i], NULL);
}

int putq_open(struct backend *b, unsigned int nthreads, struct putq **out)
{
	struct putq *q = calloc(1, sizeof(*q));
	unsigned int i;

	if (!q)
		return -ENOMEM;
	if (!nthreads)
		nthreads = b->ops->put_parallel;
	q->nthreads = MIN(MAX(nthreads, 1U), (unsigned int)PUTQ_MAX_THREADS);
	q->be = b;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->idle, NULL);
	for (i = 0; i < q->nthreads; i++) {
		if (pthread_create(&q->threads[i], NULL, putq_main, q)) {
			stop_threads(q, i);
			free(q);
			return -EAGAIN;
		}
	}
	*out = q;
	return 0;
}

int putq_submit(struct putq *q, const char *name, const void *buf, size_t len,
		putq_done_fn done, void *arg)
{
	struct put_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->name = strdup(name))) {
		free(j);
		return -ENOMEM;
	}
	j->buf = buf;
	j->len = len;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static int wait_idle(struct putq *q)
{
	int r;

	pthread_mutex_lock(&q->mu);
	while (q->head || q->busy)
		pthread_cond_wait(&q->idle, &q->mu);
	r = q->err;
	pthread_mutex_unlock(&q->mu);
	return r;
}

int putq_sync(struct putq *q)
{
	int r = wait_idle(q);

	return r ? r : backend_sync(q->be);
}

void putq_close(struct putq *q)
{
	if (!q)
		return;
	wait_idle(q);
	stop_threads(q, q->nthreads);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->idle);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
