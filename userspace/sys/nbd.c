// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's NBD client over a socketpair (see nbd.h).  The ioctl
 * interface is used, not netlink: it needs no generic-netlink family
 * lookup and the device goes away by itself when this process dies
 * (the socket closes, NBD_DO_IT returns, the last close frees it).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/nbd.h>

#include "lib/util.h"
#include "sys/nbd.h"

#define NBD_SECTOR	512
#define NBD_MAX_DEVS	1024
#define NBD_MAX_REQ	(64U << 20)	/* the kernel sends at most 32 MiB */

int nbd_connected(int index)
{
	char p[64];

	snprintf(p, sizeof(p), "/sys/block/nbd%d/pid", index);
	return access(p, F_OK) == 0;
}

/* The device's capacity in 512-byte sectors as sysfs shows it (0 when
 * it cannot be read). */
static uint64_t sysfs_sectors(int index)
{
	char p[64], buf[32] = "";
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/sys/block/nbd%d/size", index);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoull(buf, NULL, 10) : 0;
}

/* Connected, or still sized: a configuration is alive. */
int nbd_in_use(int index)
{
	return nbd_connected(index) || sysfs_sectors(index) != 0;
}

/*
 * NBD_DO_IT publishes sysfs "pid" before it gives the disk its size: the
 * kernel creates the pid file, starts the receive work and only then sets
 * the capacity (on 6.12 after freezing the queue, which waits for an RCU
 * grace period and can take a long time on a loaded machine).  Until
 * then the disk has 0 sectors and an open of it reads nothing; the
 * device is up only when both are there.
 */
int nbd_ready(const struct nbd_dev *d)
{
	return nbd_connected(d->index) && sysfs_sectors(d->index) == d->size / NBD_SECTOR;
}

/*
 * The socket first: NBD_SET_SOCK makes this task the device's setup
 * task, and another task's NBD_SET_SOCK then fails with EBUSY until the
 * device is cleared.  So the size and flags are set only on a device
 * this task holds, never on one another mount is setting up.
 * 1: our socket is in (NBD_CLEAR_SOCK undoes it), 0: nothing was done.
 */
static int configure(struct nbd_dev *d, uint64_t size, int *added)
{
	*added = 0;
	if (ioctl(d->fd, NBD_SET_SOCK, (unsigned long)d->ksock) < 0)
		return -errno;
	*added = 1;
	if (ioctl(d->fd, NBD_SET_BLKSIZE, (unsigned long)NBD_SECTOR) < 0 ||
	    ioctl(d->fd, NBD_SET_SIZE, (unsigned long)size) < 0 ||
	    ioctl(d->fd, NBD_SET_FLAGS, (unsigned long)(NBD_FLAG_HAS_FLAGS |
							NBD_FLAG_READ_ONLY)) < 0)
		return -errno;
	return 0;
}

/* One device: -EBUSY when someone else has it, so the caller tries the next. */
static int try_dev(int i, uint64_t size, struct nbd_dev *d)
{
	int sv[2], r, added;

	snprintf(d->path, sizeof(d->path), "/dev/nbd%d", i);
	d->index = i;
	d->size = size;
	d->fd = open(d->path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0)
		return errno == ENOENT || errno == ENXIO ? -ENODEV : -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		close(d->fd);
		return r;
	}
	d->sock = sv[0];
	d->ksock = sv[1];
	r = configure(d, size, &added);
	/* The kernel holds its own reference to the socket now. */
	close(d->ksock);
	d->ksock = -1;
	if (r < 0) {
		/* Not when the device was another task's: that would
		 * shut down its socket. */
		if (added)
			ioctl(d->fd, NBD_CLEAR_SOCK);
		close(d->sock);
		close(d->fd);
		d->fd = d->sock = -1;
	}
	return r;
}

int nbd_attach(uint64_t size, struct nbd_dev *d)
{
	int i, r = -ENODEV;

	if (!size || size % NBD_SECTOR)
		return -EINVAL;
	for (i = 0; i < NBD_MAX_DEVS; i++) {
		if (nbd_in_use(i))
			continue;
		r = try_dev(i, size, d);
		if (r == -ENODEV)
			return i ? -EBUSY : -ENODEV;
		if (r != -EBUSY)
			return r;
	}
	return -EBUSY;
}

int nbd_run(struct nbd_dev *d)
{
	int r = ioctl(d->fd, NBD_DO_IT) < 0 ? -errno : 0;

	ioctl(d->fd, NBD_CLEAR_QUE);
	ioctl(d->fd, NBD_CLEAR_SOCK);
	return r;
}

void nbd_disconnect(struct nbd_dev *d)
{
	ioctl(d->fd, NBD_DISCONNECT);
	shutdown(d->sock, SHUT_RDWR);
}

void nbd_close(struct nbd_dev *d)
{
	if (d->sock >= 0)
		close(d->sock);
	if (d->fd >= 0)
		close(d->fd);
	d->sock = d->fd = -1;
}

int nbd_release(int index)
{
	char p[32];
	int fd;

	snprintf(p, sizeof(p), "/dev/nbd%d", index);
	fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ioctl(fd, NBD_DISCONNECT);
	ioctl(fd, NBD_CLEAR_SOCK);
	close(fd);
	return 0;
}

static int read_exact(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The serving threads of one connection.  Each takes the next request
 * off the socket under rx (a write's payload too, so the stream stays in
 * step), answers it on its own, and sends the whole reply under tx: the
 * kernel matches replies to requests by handle, so they may go out in
 * any order.
 */
struct server {
	int sock;
	nbd_read_fn fn;
	void *ctx;
	pthread_mutex_t rx, tx;
	int done;		/* under rx: stop taking requests */
	int err;		/* under rx: the first failure */
};

static int reply(struct server *s, const struct nbd_request *rq, int err,
		 const void *data, uint32_t len)
{
	struct nbd_reply rp = {
		.magic = htobe32(NBD_REPLY_MAGIC),
		.error = htobe32((uint32_t)err),
	};
	int r;

	memcpy(rp.handle, rq->handle, sizeof(rp.handle));
	pthread_mutex_lock(&s->tx);
	r = write_full(s->sock, &rp, sizeof(rp));
	if (!r && !err && data)
		r = write_full(s->sock, data, len);
	pthread_mutex_unlock(&s->tx);
	return r;
}

/* A write's payload is read and dropped: the device is read-only. */
static int drain(int sock, uint32_t len)
{
	uint8_t tmp[4096];
	int r = 0;

	while (!r && len) {
		uint32_t n = len < sizeof(tmp) ? len : (uint32_t)sizeof(tmp);

		r = read_exact(sock, tmp, n);
		len -= n;
	}
	return r;
}

/* The next request to answer: 0, 1 at the end, or a negative errno. */
static int next_request(struct server *s, struct nbd_request *rq)
{
	int r = 1;

	pthread_mutex_lock(&s->rx);
	if (!s->done) {
		r = read_exact(s->sock, rq, sizeof(*rq));
		if (!r && be32toh(rq->magic) != NBD_REQUEST_MAGIC)
			r = -EPROTO;
		if (!r && (be32toh(rq->type) & 0xffff) == NBD_CMD_DISC)
			r = 1;
		if (!r && (be32toh(rq->type) & 0xffff) == NBD_CMD_WRITE)
			r = drain(s->sock, be32toh(rq->len));
		if (r)
			s->done = 1;
		/* The kernel hanging up is the normal end. */
		if (r < 0 && r != -ECONNRESET && !s->err)
			s->err = r;
	}
	pthread_mutex_unlock(&s->rx);
	return r;
}

static int answer(struct server *s, const struct nbd_request *rq, uint8_t **buf,
		  uint32_t *cap)
{
	uint32_t type = be32toh(rq->type) & 0xffff, len = be32toh(rq->len);
	uint64_t from = be64toh(rq->from);
	int r;

	switch (type) {
	case NBD_CMD_READ:
		if (len > NBD_MAX_REQ)
			return reply(s, rq, EINVAL, NULL, 0);
		if (len > *cap) {
			uint8_t *nb = realloc(*buf, len);

			if (!nb)
				return reply(s, rq, ENOMEM, NULL, 0);
			*buf = nb;
			*cap = len;
		}
		r = s->fn(s->ctx, from, *buf, len);
		return reply(s, rq, r < 0 ? -r : 0, *buf, len);
	case NBD_CMD_FLUSH:
		return reply(s, rq, 0, NULL, 0);
	default:		/* writes (payload drained), trims, ... */
		return reply(s, rq, EPERM, NULL, 0);
	}
}

/* A reply that cannot be sent ends the connection for every thread. */
static void stop(struct server *s, int err)
{
	shutdown(s->sock, SHUT_RDWR);
	pthread_mutex_lock(&s->rx);
	s->done = 1;
	if (err != -EPIPE && err != -ECONNRESET && !s->err)
		s->err = err;
	pthread_mutex_unlock(&s->rx);
}

static void *serve_thread(void *arg)
{
	struct server *s = arg;
	struct nbd_request rq;
	uint8_t *buf = NULL;
	uint32_t cap = 0;
	int r;

	while (!(r = next_request(s, &rq))) {
		r = answer(s, &rq, &buf, &cap);
		if (r < 0) {
			stop(s, r);
			break;
		}
	}
	free(buf);
	return NULL;
}

int nbd_serve(int sock, unsigned int nthreads, nbd_read_fn fn, void *ctx)
{
	struct server s = { .sock = sock, .fn = fn, .ctx = ctx };
	pthread_t *t = calloc(nthreads ? nthreads : 1, sizeof(*t));
	unsigned int i, n = 0;

	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&s.rx, NULL);
	pthread_mutex_init(&s.tx, NULL);
	/* Fewer threads than asked when some cannot start; this one serves too. */
	for (i = 1; i < nthreads; i++)
		if (!pthread_create(&t[n], NULL, serve_thread, &s))
			n++;
	serve_thread(&s);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	pthread_mutex_destroy(&s.rx);
	pthread_mutex_destroy(&s.tx);
	return s.err;
}
