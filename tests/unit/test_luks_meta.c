// SPDX-License-Identifier: GPL-2.0
/* LUKS header fingerprints: which header writes change the layout (and
 * force a full scan) and which only change the header (keyslots, tokens,
 * labels); LUKS2 copy selection by checksum and sequence id; hostile and
 * truncated headers.  Headers are built here field by field from the
 * published on-disk formats; the VM suite runs the parser on real ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/crypto.h"
#include "sys/luks_meta.h"

#define UUID "0b6a4f57-2c1e-4d39-9a52-7d2f0e5f6a11"

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* ---- LUKS1 ---- */

#define L1_LEN (1U << 20)

static uint8_t *luks1(void)
{
	uint8_t *h = calloc(1, L1_LEN);

	memcpy(h, "LUKS\xba\xbe", 6);
	put_be(h + 6, 1, 2);
	strcpy((char *)h + 8, "aes");
	strcpy((char *)h + 40, "xts-plain64");
	strcpy((char *)h + 72, "sha256");
	put_be(h + 104, L1_LEN / 512, 4);	/* payload offset */
	put_be(h + 108, 64, 4);			/* key bytes */
	memset(h + 112, 0x5a, 20 + 32);		/* mk digest, salt */
	put_be(h + 164, 1000, 4);
	strcpy((char *)h + 168, UUID);
	memset(h + 4096, 0x77, 8192);		/* "key material" */
	return h;
}

static void test_luks1(void **state)
{
	struct luks_meta a, b;
	uint8_t *h = luks1();

	assert_int_equal(luks_meta_parse(h, L1_LEN, &a), 0);
	assert_int_equal(a.version, 1);
	assert_string_equal(a.uuid, UUID);
	assert_int_equal(a.data_offset, L1_LEN);
	assert_int_equal(a.area, L1_LEN);

	/* A keyslot change (what luksChangeKey writes): header only. */
	h[208 + 4] ^= 1;
	h[5000] ^= 1;
	assert_int_equal(luks_meta_parse(h, L1_LEN, &b), 0);
	assert_memory_equal(a.layout, b.layout, 32);
	assert_memory_not_equal(a.header, b.header, 32);

	/* Another volume key (reformat, foreign header restored): layout. */
	h[120] ^= 1;
	assert_int_equal(luks_meta_parse(h, L1_LEN, &b), 0);
	assert_memory_not_equal(a.layout, b.layout, 32);
	h[120] ^= 1;
	strcpy((char *)h + 40, "cbc-essiv:sha256");
	assert_int_equal(luks_meta_parse(h, L1_LEN, &b), 0);
	assert_memory_not_equal(a.layout, b.layout, 32);

	/* The caller must pass the whole area. */
	assert_int_equal(luks_meta_parse(h, L1_LEN - 512, &b), -ERANGE);
	put_be(h + 108, 0, 4);
	assert_int_equal(luks_meta_parse(h, L1_LEN, &b), -EINVAL);
	free(h);
}

/* ---- LUKS2 ---- */

#define HS (16U << 10)		/* binary + JSON area of one copy */
#define KS (64U << 10)		/* keyslots area */
#define L2_LEN (2 * HS + KS)

static const char *json_base =
	"{\"keyslots\":{\"0\":{\"type\":\"luks2\",\"key_size\":64,\"area\":{\"type\":\"raw\","
	"\"offset\":\"32768\",\"size\":\"258048\"}}},\"tokens\":{},"
	"\"segments\":{\"0\":{\"type\":\"crypt\",\"offset\":\"%s\",\"size\":\"dynamic\","
	"\"iv_tweak\":\"0\",\"encryption\":\"aes-xts-plain64\",\"sector_size\":512}},"
	"\"digests\":{\"0\":{\"type\":\"pbkdf2\",\"keyslots\":[%s],\"segments\":[\"0\"],"
	"\"hash\":\"sha256\",\"iterations\":1000,\"salt\":\"c2FsdA==\",\"digest\":\"%s\"}},"
	"\"config\":{\"json_size\":\"12288\",\"keyslots_size\":\"%u\"%s}}";

struct l2 {
	const char *offset, *keyslots, *digest, *extra;
	uint64_t seq1, seq2;
	const char *label;
};

static void l2_copy(uint8_t *c, const char *magic, const struct l2 *p, uint64_t seq,
		    uint64_t off)
{
	uint8_t sum[32];

	memset(c, 0, HS);
	memcpy(c, magic, 6);
	put_be(c + 6, 2, 2);
	put_be(c + 8, HS, 8);
	put_be(c + 16, seq, 8);
	strcpy((char *)c + 24, p->label);
	strcpy((char *)c + 72, "sha256");
	strcpy((char *)c + 168, UUID);
	put_be(c + 256, off, 8);
	snprintf((char *)c + 4096, HS - 4096, json_base, p->offset, p->keyslots,
		 p->digest, KS, p->extra);
	assert_int_equal(crypto_sha256(c, HS, sum), 0);
	memcpy(c + 448, sum, 32);
}

static uint8_t *luks2(const struct l2 *p)
{
	uint8_t *h = calloc(1, L2_LEN);

	l2_copy(h, "LUKS\xba\xbe", p, p->seq1, 0);
	l2_copy(h + HS, "SKUL\xba\xbe", p, p->seq2, HS);
	memset(h + 2 * HS, 0x33, KS);
	return h;
}

static const struct l2 base = {
	.offset = "16777216", .keyslots = "\"0\"", .digest = "ZGlnZXN0", .extra = "",
	.seq1 = 7, .seq2 = 7, .label = "",
};

static void parse2(const struct l2 *p, int want, struct luks_meta *m)
{
	uint8_t *h = luks2(p);

	assert_int_equal(luks_meta_parse(h, L2_LEN, m), want);
	free(h);
}

static void test_luks2_fields(void **state)
{
	struct luks_meta m;

	parse2(&base, 0, &m);
	assert_int_equal(m.version, 2);
	assert_string_equal(m.uuid, UUID);
	assert_int_equal(m.seqid, 7);
	assert_int_equal(m.data_offset, 16777216);
	assert_int_equal(m.area, L2_LEN);
}

static void test_luks2_header_only_changes(void **state)
{
	struct luks_meta a, b;
	struct l2 p = base;

	parse2(&base, 0, &a);
	/* luksAddKey: a keyslot more, the digest lists it. */
	p.keyslots = "\"0\",\"1\"";
	p.seq1 = p.seq2 = 8;
	parse2(&p, 0, &b);
	assert_memory_equal(a.layout, b.layout, 32);
	assert_memory_not_equal(a.header, b.header, 32);
	assert_int_equal(b.seqid, 8);
	/* cryptsetup config --label */
	p = base;
	p.label = "data";
	parse2(&p, 0, &b);
	assert_memory_equal(a.layout, b.layout, 32);
	assert_memory_not_equal(a.header, b.header, 32);
}

static void test_luks2_layout_changes(void **state)
{
	struct luks_meta a, b;
	struct l2 p = base;

	parse2(&base, 0, &a);
	p.offset = "33554432";			/* data shifted */
	parse2(&p, 0, &b);
	assert_memory_not_equal(a.layout, b.layout, 32);
	assert_int_equal(b.data_offset, 33554432);
	p = base;
	p.digest = "b3RoZXI=";			/* another volume key */
	parse2(&p, 0, &b);
	assert_memory_not_equal(a.layout, b.layout, 32);
	p = base;
	p.extra = ",\"requirements\":{\"mandatory\":[\"online-reencrypt-v2\"]}";
	parse2(&p, 0, &b);
	assert_memory_not_equal(a.layout, b.layout, 32);
}

static void test_luks2_copies(void **state)
{
	struct luks_meta a, m;
	struct l2 p = base;
	uint8_t *h;

	parse2(&base, 0, &a);
	/* The copy with the higher sequence id wins. */
	p.seq2 = 9;
	parse2(&p, 0, &m);
	assert_int_equal(m.seqid, 9);
	/* A damaged primary: the secondary copy is used. */
	h = luks2(&base);
	h[4200] ^= 1;
	assert_int_equal(luks_meta_parse(h, L2_LEN, &m), 0);
	assert_memory_equal(a.layout, m.layout, 32);
	/* Both damaged: refused, never guessed. */
	h[HS + 4200] ^= 1;
	assert_int_equal(luks_meta_parse(h, L2_LEN, &m), -EINVAL);
	free(h);
}

static void test_luks2_hostile(void **state)
{
	struct luks_meta m;
	struct l2 p = base;
	uint8_t *h;

	p.offset = "-1";
	parse2(&p, -EINVAL, &m);
	p.offset = "99999999999999999999999";
	parse2(&p, -EINVAL, &m);
	/* Area larger than what the caller read. */
	h = luks2(&base);
	assert_int_equal(luks_meta_parse(h, L2_LEN - 1, &m), -ERANGE);
	assert_int_equal(luks_meta_parse(h, 4095, &m), -EINVAL);
	/* Header size not a power of two: both copies invalid. */
	put_be(h + 8, HS + 512, 8);
	put_be(h + HS + 8, HS + 512, 8);
	assert_int_equal(luks_meta_parse(h, L2_LEN, &m), -EINVAL);
	free(h);
	/* Every truncation and every single-byte corruption of the binary
	 * header either parses or is refused; none reads out of bounds
	 * (run under valgrind/ASan in the fuzz lane). */
	h = luks2(&base);
	for (size_t n = 0; n < L2_LEN; n += 997)
		(void)luks_meta_parse(h, n, &m);
	for (size_t i = 0; i < 512; i++) {
		h[i] ^= 0xff;
		(void)luks_meta_parse(h, L2_LEN, &m);
		h[i] ^= 0xff;
	}
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_luks1),
		cmocka_unit_test(test_luks2_fields),
		cmocka_unit_test(test_luks2_header_only_changes),
		cmocka_unit_test(test_luks2_layout_changes),
		cmocka_unit_test(test_luks2_copies),
		cmocka_unit_test(test_luks2_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
