// SPDX-License-Identifier: GPL-2.0
/* nbd_serve (the NBD server of `cryptsnap mount`) over a socketpair, the
 * test playing the kernel: many reads in flight at once are each answered
 * once, with their own handle and bytes, in whatever order the serving
 * threads finish (a slow read does not hold up a fast one); a failing
 * read gets its errno and no payload; a write's payload is drained and
 * it gets EPERM; NBD_CMD_DISC ends nbd_serve with 0. */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/nbd.h>
#include <cmocka.h>

#include "lib/util.h"
#include "sys/nbd.h"

#define NREQ		64
#define LEN		8192U
#define SLOW_OFF	(1ULL << 30)	/* reads here take a while */
#define BAD_OFF		(2ULL << 30)	/* reads here fail */

/* Byte i of the device: a function of its offset. */
static uint8_t dev_byte(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 13));
}

static int dev_read(void *ctx, uint64_t off, void *buf, uint32_t len)
{
	uint8_t *p = buf;
	uint32_t i;

	(void)ctx;
	if (off == BAD_OFF)
		return -EBADMSG;
	if (off == SLOW_OFF)
		usleep(300 * 1000);
	for (i = 0; i < len; i++)
		p[i] = dev_byte(off + i);
	return 0;
}

struct srv {
	int sock;
	int r;
};

static void *srv_main(void *p)
{
	struct srv *s = p;

	s->r = nbd_serve(s->sock, 4, dev_read, NULL);
	return NULL;
}

static void send_rq(int fd, uint32_t type, uint64_t handle, uint64_t from, uint32_t len)
{
	struct nbd_request rq = {
		.magic = htobe32(NBD_REQUEST_MAGIC),
		.type = htobe32(type),
		.from = htobe64(from),
		.len = htobe32(len),
	};

	memcpy(rq.handle, &handle, sizeof(handle));
	assert_int_equal(write_full(fd, &rq, sizeof(rq)), 0);
}

static void recv_exact(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* The next reply: its handle and error. */
static uint64_t recv_reply(int fd, uint32_t *err)
{
	struct nbd_reply rp;
	uint64_t h;

	recv_exact(fd, &rp, sizeof(rp));
	assert_int_equal(be32toh(rp.magic), NBD_REPLY_MAGIC);
	memcpy(&h, rp.handle, sizeof(h));
	*err = be32toh(rp.error);
	return h;
}

static void test_serve(void **state)
{
	static uint8_t buf[LEN], payload[3 * LEN];
	int seen[NREQ + 3] = { 0 }, sv[2], i;
	struct srv s = { .r = -1 };
	pthread_t t;
	uint32_t err;
	uint64_t h;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.sock = sv[0];
	assert_int_equal(pthread_create(&t, NULL, srv_main, &s), 0);

	/* Handle 0: the slow read, sent first; then NREQ - 1 fast ones, a
	 * write with its payload, a failing read and a flush. */
	send_rq(sv[1], NBD_CMD_READ, 0, SLOW_OFF, LEN);
	for (i = 1; i < NREQ; i++)
		send_rq(sv[1], NBD_CMD_READ, (uint64_t)i, (uint64_t)i * 3 * LEN + 512, LEN);
	send_rq(sv[1], NBD_CMD_WRITE, NREQ, 0, sizeof(payload));
	assert_int_equal(write_full(sv[1], payload, sizeof(payload)), 0);
	send_rq(sv[1], NBD_CMD_READ, NREQ + 1, BAD_OFF, LEN);
	send_rq(sv[1], NBD_CMD_FLUSH, NREQ + 2, 0, 0);

	for (i = 0; i < NREQ + 3; i++) {
		h = recv_reply(sv[1], &err);
		assert_true(h < NREQ + 3);
		assert_int_equal(seen[h], 0);
		seen[h] = 1;
		if (h == NREQ) {
			assert_int_equal(err, EPERM);
		} else if (h == NREQ + 1) {
			assert_int_equal(err, EBADMSG);
		} else if (h == NREQ + 2) {
			assert_int_equal(err, 0);
		} else {
			uint64_t from = h ? h * 3 * LEN + 512 : SLOW_OFF;
			uint32_t k;

			assert_int_equal(err, 0);
			recv_exact(sv[1], buf, LEN);
			for (k = 0; k < LEN; k++)
				assert_int_equal(buf[k], dev_byte(from + k));
		}
		/* Out of order: the slow read is not the first answered. */
		if (i == 0)
			assert_true(h != 0);
	}
	send_rq(sv[1], NBD_CMD_DISC, 0, 0, 0);
	pthread_join(t, NULL);
	assert_int_equal(s.r, 0);
	close(sv[0]);
	close(sv[1]);
}

/* A request with a bad magic ends the connection with -EPROTO. */
static void test_bad_magic(void **state)
{
	struct srv s = { .r = 0 };
	struct nbd_request rq;
	pthread_t t;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s.sock = sv[0];
	assert_int_equal(pthread_create(&t, NULL, srv_main, &s), 0);
	memset(&rq, 0x5a, sizeof(rq));
	assert_int_equal(write_full(sv[1], &rq, sizeof(rq)), 0);
	pthread_join(t, NULL);
	assert_int_equal(s.r, -EPROTO);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serve),
		cmocka_unit_test(test_bad_magic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
