// SPDX-License-Identifier: GPL-2.0
/* Vault formats: segment index, blob location index, manifest, blob
 * envelope and retention rules, including hostile inputs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/crypto.h"
#include "lib/util.h"
#include "vault/vault.h"
#include "vault/vault_bindex.h"
#include "vault/vault_blob.h"
#include "vault/vault_escrow.h"
#include "vault/vault_keys.h"
#include "vault/vault_manifest.h"
#include "vault/vault_retention.h"
#include "vault/vault_seg.h"
#include "vault/vault_softdel.h"

static void test_seg_roundtrip_zero_runs(void **state)
{
	seg_id_t ids[4096], back[4096];
	uint8_t *enc;
	size_t len;

	memset(ids, 0, sizeof(ids));
	assert_int_equal(seg_encode(ids, 4096, &enc, &len), 0);
	assert_int_equal(len, 8 + 5);	/* an all-zero segment is one run */
	assert_int_equal(seg_decode(enc, len, 4096, back), 0);
	free(enc);
	memset(ids[7], 0xaa, 32);
	memset(ids[8], 0xbb, 32);
	memset(ids[4095], 0xcc, 32);
	assert_int_equal(seg_encode(ids, 4096, &enc, &len), 0);
	assert_int_equal(len, 8 + 5 * 4 + 3 * 32);
	assert_int_equal(seg_decode(enc, len, 4096, back), 0);
	assert_memory_equal(ids, back, sizeof(ids));
	free(enc);
}

static void test_seg_hostile(void **state)
{
	seg_id_t ids[64], back[64];
	uint8_t *enc, bad[64];
	size_t len, cut;

	memset(ids, 0x11, sizeof(ids));
	assert_int_equal(seg_encode(ids, 64, &enc, &len), 0);
	/* Every truncation is refused. */
	for (cut = 0; cut < len; cut++)
		assert_int_equal(seg_decode(enc, cut, 64, back), -EUCLEAN);
	assert_int_equal(seg_decode(enc, len, 63, back), -EUCLEAN);
	/* Run count beyond the segment. */
	put_le32(enc + 9, 1000);
	assert_int_equal(seg_decode(enc, len, 64, back), -EUCLEAN);
	free(enc);
	/* Count overflow, unknown kind, zero-length run. */
	memcpy(bad, "CSS1", 4);
	put_le32(bad + 4, 64);
	bad[8] = 1;
	put_le32(bad + 9, 0xffffffffU);
	assert_int_equal(seg_decode(bad, 13, 64, back), -EUCLEAN);
	bad[8] = 7;
	put_le32(bad + 9, 64);
	assert_int_equal(seg_decode(bad, 13, 64, back), -EUCLEAN);
	bad[8] = 0;
	put_le32(bad + 9, 0);
	assert_int_equal(seg_decode(bad, 13, 64, back), -EUCLEAN);
}

static void test_bindex_roundtrip_hostile(void **state)
{
	struct bindex a, b;
	struct bindex_rec recs[3];
	uint8_t pid[16] = { 9 }, *buf;
	struct bloc loc;
	uint32_t idx;
	size_t len, i, cut;

	assert_int_equal(bindex_init(&a), 0);
	assert_int_equal(bindex_add_pack(&a, pid, &idx), 0);
	for (i = 0; i < 3; i++) {
		memset(recs[i].id, (int)i + 1, 32);
		recs[i].loc = (struct bloc){ .pack = idx, .off = 8 + 100 * (uint32_t)i,
					     .len = 100, .type = 'D' };
		assert_int_equal(bindex_put(&a, recs[i].id, &recs[i].loc, 0), 1);
	}
	assert_int_equal(bindex_put(&a, recs[0].id, &recs[0].loc, 0), 0);
	assert_int_equal(bindex_encode(&a, recs, 3, &buf, &len), 0);
	assert_int_equal(bindex_init(&b), 0);
	assert_int_equal(bindex_decode(&b, buf, len, 1 << 20), 0);
	assert_int_equal(b.n, 3);
	assert_int_equal(bindex_get(&b, recs[2].id, &loc), 1);
	assert_int_equal(loc.off, 208);
	for (cut = 0; cut < len; cut += 7)
		assert_int_equal(bindex_decode(&b, buf, cut, 1 << 20), -EUCLEAN);
	put_le32(buf + 16 + 16 + 32, 5);	/* pack index out of range */
	assert_int_equal(bindex_decode(&b, buf, len, 1 << 20), -EUCLEAN);
	put_le32(buf + 16 + 16 + 32, 0);
	put_le32(buf + 16 + 16 + 40, 0xfffffff0U);	/* absurd length */
	assert_int_equal(bindex_decode(&b, buf, len, 1 << 20), -EUCLEAN);
	free(buf);
	/* Growth keeps every entry. */
	for (i = 0; i < 20000; i++) {
		uint8_t id[32] = { 0 };

		put_le64(id, i * 0x9e3779b97f4a7c15ULL);
		put_le64(id + 8, i);
		assert_int_equal(bindex_put(&b, id, &loc, 0), 1);
	}
	assert_int_equal(b.n, 20003);
	bindex_free(&a);
	bindex_free(&b);
}

static void make_manifest(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "20250101T000000Z-00000001");
	snprintf(m->disk, sizeof(m->disk), "vm1-root");
	m->created = 1735689600;
	m->image_size = (uint64_t)5000 * 65536 + 512;
	m->chunk_size = 65536;
	m->seg_chunks = 4096;
	m->nsegs = manifest_segs_for(m->image_size, m->chunk_size, m->seg_chunks);
	m->segs = calloc(m->nsegs, SEG_ID_LEN);
	memset(m->segs[1], 0x42, SEG_ID_LEN);
	m->nescrow = 1;
	snprintf(m->escrow[0].name, sizeof(m->escrow[0].name), "passphrase");
	m->escrow[0].kind = ESCROW_KEK;
	m->escrow[0].len = 40;
	m->escrow[0].data = calloc(1, 40);
	m->escrow[0].nwraps = 1;
	m->escrow[0].wraps[0].gen = 3;
	m->escrow[0].wraps[0].len = 40;
	m->escrow[0].wraps[0].data = calloc(1, 40);
	manifest_set_meta(m, "tracking-uuid", "abc");
}

static void test_manifest_roundtrip(void **state)
{
	struct manifest m, back;
	char *s;
	size_t len;

	make_manifest(&m);
	assert_int_equal(m.nsegs, 2);
	assert_int_equal(manifest_seg_len(&m, 1), 5001 - 4096);
	assert_int_equal(manifest_encode(&m, &s, &len), 0);
	assert_int_equal(manifest_decode(s, len, 65536, 4096, &back), 0);
	assert_string_equal(back.id, m.id);
	assert_int_equal(back.image_size, m.image_size);
	assert_memory_equal(back.segs[1], m.segs[1], SEG_ID_LEN);
	assert_true(seg_is_zero_id(back.segs[0]));
	assert_int_equal(back.escrow[0].wraps[0].gen, 3);
	assert_string_equal(manifest_meta(&back, "tracking-uuid"), "abc");
	manifest_free(&back);
	/* Wrong vault geometry is refused. */
	assert_int_equal(manifest_decode(s, len, 4096, 4096, &back), -EUCLEAN);
	free(s);
	manifest_free(&m);
}

/* Soft delete (issue 17): "deleted" round trips, is absent while live
 * (manifests of older builds), and a purge waits for retain-until too. */
static void test_manifest_deleted(void **state)
{
	struct manifest m, back;
	char *s;
	size_t len;

	make_manifest(&m);
	assert_int_equal(manifest_encode(&m, &s, &len), 0);
	assert_null(strstr(s, "\"deleted\""));
	assert_int_equal(manifest_decode(s, len, 65536, 4096, &back), 0);
	assert_int_equal(back.deleted, 0);
	manifest_free(&back);
	free(s);
	m.deleted = 1700000000;
	assert_int_equal(manifest_encode(&m, &s, &len), 0);
	assert_int_equal(manifest_decode(s, len, 65536, 4096, &back), 0);
	assert_int_equal(back.deleted, 1700000000);
	m.retain_until = 0;
	assert_int_equal(softdel_purge_time(&m, 14 * 86400), 1700000000 + 14 * 86400);
	m.retain_until = 1900000000;
	assert_int_equal(softdel_purge_time(&m, 14 * 86400), 1900000000);
	assert_int_equal(softdel_purge_time(&m, INT64_MAX), INT64_MAX);
	manifest_free(&back);
	free(s);
	manifest_free(&m);
}

static void expect_bad(const char *from, const char *to)
{
	struct manifest m, back;
	char *s, *p, *t;
	size_t len;
	int r;

	make_manifest(&m);
	assert_int_equal(manifest_encode(&m, &s, &len), 0);
	p = strstr(s, from);
	assert_non_null(p);
	t = malloc(len + strlen(to) + 1);
	memcpy(t, s, (size_t)(p - s));
	strcpy(t + (p - s), to);
	strcat(t, p + strlen(from));
	r = manifest_decode(t, strlen(t), 65536, 4096, &back);
	assert_true(r == -EUCLEAN || r == -EPROTONOSUPPORT);
	free(t);
	free(s);
	manifest_free(&m);
}

static void test_manifest_hostile(void **state)
{
	struct manifest back;
	char *s;
	size_t len, cut;

	expect_bad("\"format\":1", "\"format\":2");
	expect_bad("\"disk\":\"vm1-root\"", "\"disk\":\"../etc\"");
	expect_bad("\"id\":\"2025", "\"id\":\"/2025");
	expect_bad("\"image_size\":327680512", "\"image_size\":999999999999");
	expect_bad("\"image_size\":327680512", "\"image_size\":-1");
	expect_bad("\"image_size\":327680512", "\"image_size\":\"x\"");
	expect_bad("\"gen\":3", "\"gen\":0");
	expect_bad("\"kind\":\"kek\"", "\"kind\":\"xyz\"");
	expect_bad("\"name\":\"passphrase\"", "\"name\":\"../../x\"");
	expect_bad("null,", "\"zz\",");
	expect_bad("\"segments\":[null,", "\"segments\":[");
	expect_bad("\"retain_until\":", "\"deleted\":-5,\"retain_until\":");
	expect_bad("\"retain_until\":", "\"deleted\":\"x\",\"retain_until\":");
	make_manifest(&back);
	assert_int_equal(manifest_encode(&back, &s, &len), 0);
	manifest_free(&back);
	for (cut = 0; cut < len; cut += 13)
		assert_int_equal(manifest_decode(s, cut, 65536, 4096, &back), -EUCLEAN);
	assert_int_equal(manifest_decode("[]", 2, 65536, 4096, &back), -EUCLEAN);
	assert_int_equal(manifest_decode("{\"a\":1}\0x", 9, 65536, 4096, &back), -EUCLEAN);
	free(s);
}

static void test_blob_binding(void **state)
{
	struct vault v = { 0 };
	struct vault_kek *kek;
	struct blob_ctx c;
	uint8_t id[32], id2[32], data[1000], sealed[1000 + BLOB_OVERHEAD], out[1000];
	char path[256], dir[] = "/tmp/cs-unit-XXXXXX";

	assert_non_null(mkdtemp(dir));
	assert_int_equal(kek_generate(dir, "00", 1, path, sizeof(path), &kek), 0);
	assert_int_equal(keys_create(kek, KEK_MODE_VAULT, v.id, path, &v.keys), 0);
	memset(v.id, 3, sizeof(v.id));
	assert_int_equal(blob_ctx_init(&c, &v), 0);
	memset(data, 0x77, sizeof(data));
	assert_int_equal(blob_id(&c, BLOB_DATA, data, sizeof(data), id), 0);
	assert_int_equal(blob_seal(&c, BLOB_DATA, id, data, sizeof(data), sealed), 0);
	assert_int_equal(blob_open(&c, BLOB_DATA, id, sealed, sizeof(sealed), out), 0);
	assert_memory_equal(out, data, sizeof(data));
	/* Another id, another type, another vault or a flipped bit: refused. */
	memcpy(id2, id, 32);
	id2[31] ^= 1;
	assert_int_equal(blob_open(&c, BLOB_DATA, id2, sealed, sizeof(sealed), out), -EBADMSG);
	assert_int_equal(blob_open(&c, BLOB_SEG, id, sealed, sizeof(sealed), out), -EBADMSG);
	sealed[500] ^= 1;
	assert_int_equal(blob_open(&c, BLOB_DATA, id, sealed, sizeof(sealed), out), -EBADMSG);
	sealed[500] ^= 1;
	assert_int_equal(blob_open(&c, BLOB_DATA, id, sealed, 10, out), -EBADMSG);
	blob_ctx_free(&c);
	v.id[0] ^= 1;
	assert_int_equal(blob_ctx_init(&c, &v), 0);
	assert_int_equal(blob_open(&c, BLOB_DATA, id, sealed, sizeof(sealed), out), -EBADMSG);
	blob_ctx_free(&c);
	keys_free(v.keys);
	unlink(path);
	rmdir(dir);
}

#define DAY 86400
static void test_retention(void **state)
{
	struct retention_policy p = { .last = 2, .daily = 3 };
	struct retention_item it[8] = { 0 };
	int64_t now = 1735689600 + 30 * DAY + 12 * 3600;	/* 2025-01-31 noon */
	unsigned int i;

	/* Two points a day on days 0..3 (newest last). */
	for (i = 0; i < 8; i++) {
		it[i].created = now - (3 - i / 2) * DAY - (i % 2 ? 0 : 3600);
		it[i].retain_until = 0;
	}
	it[0].retain_until = now + DAY;
	retention_apply(&p, it, 8, now);
	assert_int_equal(it[7].keep, KEEP_LAST | KEEP_DAILY);
	assert_int_equal(it[6].keep, KEEP_LAST);
	assert_int_equal(it[5].keep, KEEP_DAILY);
	assert_int_equal(it[4].keep, 0);
	assert_int_equal(it[3].keep, KEEP_DAILY);
	assert_int_equal(it[2].keep, 0);
	assert_int_equal(it[1].keep, 0);		/* 4th day: beyond daily 3 */
	assert_int_equal(it[0].keep, KEEP_RETAIN);	/* retain-until wins */
	/* retain-until in the past no longer protects. */
	it[0].retain_until = now - 1;
	retention_apply(&p, it, 8, now);
	assert_int_equal(it[0].keep, 0);
	/* Monthly/yearly buckets. */
	{
		struct retention_policy q = { .monthly = 2, .yearly = 1 };
		struct retention_item y[3] = {
			{ .created = 1735689600 },		/* 2025-01-01 */
			{ .created = 1735689600 - 40 * DAY },	/* 2024-11 */
			{ .created = 1735689600 - 10 * DAY },	/* 2024-12 */
		};

		retention_apply(&q, y, 3, now);
		assert_int_equal(y[0].keep, KEEP_MONTHLY | KEEP_YEARLY);
		assert_int_equal(y[2].keep, KEEP_MONTHLY);
		assert_int_equal(y[1].keep, 0);
	}
}

static void test_util_parsers(void **state)
{
	int64_t t;
	uint64_t s;

	assert_int_equal(parse_date("2025-01-01", &t), 0);
	assert_int_equal(t, 1735689600 + DAY - 1);
	assert_int_equal(parse_date("2025-01-01T00:00:10", &t), 0);
	assert_int_equal(t, 1735689610);
	assert_int_equal(parse_date("@12", &t), 0);
	assert_int_equal(t, 12);
	assert_int_equal(parse_date("yesterday", &t), -EINVAL);
	assert_int_equal(parse_date("2025-01-01x", &t), -EINVAL);
	assert_int_equal(parse_size("64K", &s), 0);
	assert_int_equal(s, 65536);
	assert_int_equal(parse_size("-1", &s), -EINVAL);
	assert_true(disk_name_valid("vm1-root.disk_0"));
	assert_false(disk_name_valid("../x"));
	assert_false(disk_name_valid(""));
}

/* A LUKS header escrowed as a reference into the point's own image. */
static void test_escrow_image_slot(void **state)
{
	static uint8_t hdr[20000];
	struct manifest m, back;
	struct escrow_slot *e;
	uint64_t n;
	char *s, *p;
	size_t len;

	memset(hdr, 0x5c, sizeof(hdr));
	make_manifest(&m);
	e = &m.escrow[1];
	assert_int_equal(escrow_seal(NULL, NULL, m.id, "luks-header", ESCROW_IMAGE, hdr,
				     sizeof(hdr), e), 0);
	m.nescrow = 2;
	assert_int_equal(e->len, ESCROW_IMAGE_LEN);
	assert_int_equal(escrow_image_len(e, &n), 0);
	assert_int_equal(n, sizeof(hdr));
	assert_int_equal(escrow_image_check(e, hdr, sizeof(hdr)), 0);
	hdr[19999] ^= 1;
	assert_int_equal(escrow_image_check(e, hdr, sizeof(hdr)), -EBADMSG);
	hdr[19999] ^= 1;
	assert_int_equal(escrow_image_check(e, hdr, sizeof(hdr) - 1), -EBADMSG);
	assert_int_equal(escrow_open(NULL, NULL, m.id, e, (uint8_t **)&p, &len), -EOPNOTSUPP);

	assert_int_equal(manifest_encode(&m, &s, &len), 0);
	assert_int_equal(manifest_decode(s, len, 65536, 4096, &back), 0);
	assert_int_equal(back.escrow[1].kind, ESCROW_IMAGE);
	assert_int_equal(escrow_image_check(&back.escrow[1], hdr, sizeof(hdr)), 0);
	manifest_free(&back);
	/* A hostile slot: wrong length, or wraps on an image slot. */
	p = strstr(s, "\"kind\":\"image\"");
	assert_non_null(p);
	p = strstr(p, "\"data\"");
	assert_non_null(p);
	p = strchr(p + 7, '"');
	p[1] = '0';		/* still hex; decoded length unchanged: accepted */
	assert_int_equal(manifest_decode(s, len, 65536, 4096, &back), 0);
	manifest_free(&back);
	memmove(p + 1, p + 3, strlen(p + 3) + 1);	/* one byte short */
	assert_int_equal(manifest_decode(s, strlen(s), 65536, 4096, &back), -EUCLEAN);
	free(s);
	/* A zero or oversized length is refused before any read. */
	memset(e->data, 0, 8);
	assert_int_equal(escrow_image_len(e, &n), -EUCLEAN);
	memset(e->data, 0xff, 8);
	assert_int_equal(escrow_image_len(e, &n), -EUCLEAN);
	manifest_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seg_roundtrip_zero_runs),
		cmocka_unit_test(test_seg_hostile),
		cmocka_unit_test(test_bindex_roundtrip_hostile),
		cmocka_unit_test(test_manifest_roundtrip),
		cmocka_unit_test(test_manifest_hostile),
		cmocka_unit_test(test_manifest_deleted),
		cmocka_unit_test(test_escrow_image_slot),
		cmocka_unit_test(test_blob_binding),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_util_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
