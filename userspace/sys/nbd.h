/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_NBD_H
#define CRYPTSNAP_NBD_H

/*
 * A read-only block device served by this process: the kernel's NBD
 * client (/dev/nbdN, ioctl interface) talks to our end of a socketpair.
 * The only user of <linux/nbd.h>.
 *
 *   nbd_attach()     a free /dev/nbdN sized size bytes, read-only, with
 *                    *sock our end of the connection
 *   nbd_run()        blocks in NBD_DO_IT until the device is disconnected
 *                    (a thread of its own)
 *   nbd_serve()      answers the kernel's requests on sock with read_fn
 *                    until it disconnects (a thread of its own), with
 *                    nthreads threads at once (this one and nthreads - 1
 *                    more), replies in any order; writes and trims get
 *                    EPERM
 *   nbd_disconnect() asks the kernel to let go; nbd_run() and nbd_serve()
 *                    then return
 *
 * -ENODEV from nbd_attach(): no NBD support (module not loaded, no
 * /dev/nbd0); -EBUSY: every device is in use.
 */
#include <stddef.h>
#include <stdint.h>

struct nbd_dev {
	int fd;			/* /dev/nbdN */
	int sock;		/* our end */
	int ksock;		/* the kernel's end (closed by nbd_run) */
	int index;		/* N */
	uint64_t size;		/* bytes, as set */
	char path[32];
};

int nbd_attach(uint64_t size, struct nbd_dev *d);
int nbd_run(struct nbd_dev *d);
/* Fills buf with len bytes from off: 0 or a negative errno (sent to the
 * kernel as that request's error).  Called from several threads at once. */
typedef int (*nbd_read_fn)(void *ctx, uint64_t off, void *buf, uint32_t len);
int nbd_serve(int sock, unsigned int nthreads, nbd_read_fn fn, void *ctx);
void nbd_disconnect(struct nbd_dev *d);
void nbd_close(struct nbd_dev *d);
/* 1 when /dev/nbdN has a server attached (sysfs "pid"). */
int nbd_connected(int index);
/* 1 when d's server is attached and the disk has the size set: only
 * then may it be opened and read (see nbd.c). */
int nbd_ready(const struct nbd_dev *d);
/* 1 when it is connected or still has a size (a configuration alive). */
int nbd_in_use(int index);
/* Sends NBD_DISCONNECT and NBD_CLEAR_SOCK to /dev/nbdN whose server is
 * gone (a killed daemon): the device is free again once nothing holds it. */
int nbd_release(int index);

#endif
