// SPDX-License-Identifier: GPL-2.0
/* S3 response XML (store/s3_xml.c): list pages, continuation, error codes,
 * and XML that is not what it should be (it comes from the network). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/s3_xml.h"

static int list(const char *xml, struct name_list *l, char **next)
{
	return s3_xml_list(xml, strlen(xml), l, next);
}

static void test_list_page(void **state)
{
	const char *xml =
		"<?xml version='1.0' encoding='UTF-8'?>"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>vaults</Name><Prefix>v/</Prefix><KeyCount>2</KeyCount>"
		"<IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>dG9rZW4=</NextContinuationToken>"
		"<Contents><Key>v/config.json</Key><Size>10</Size></Contents>"
		"<Contents><Key>v/packs/ab/a&amp;b.pack</Key><Size>20</Size></Contents>"
		"</ListBucketResult>";
	struct name_list l = { 0 };
	char *next = NULL;

	assert_int_equal(list(xml, &l, &next), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "v/config.json");
	assert_string_equal(l.names[1], "v/packs/ab/a&b.pack");
	assert_non_null(next);
	assert_string_equal(next, "dG9rZW4=");
	free(next);
	name_list_free(&l);
}

static void test_last_page(void **state)
{
	const char *xml = "<ListBucketResult><IsTruncated>false</IsTruncated>"
			  "<Contents><Key>a</Key></Contents></ListBucketResult>";
	struct name_list l = { 0 };
	char *next = (char *)1;

	assert_int_equal(list(xml, &l, &next), 0);
	assert_int_equal(l.n, 1);
	assert_null(next);
	name_list_free(&l);
}

static void test_not_a_list(void **state)
{
	static const char *bad[] = {
		"",
		"<ListBucketResult>",
		"<Error><Code>AccessDenied</Code></Error>",
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		/* truncated without a token */
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct name_list l = { 0 };
		char *next = NULL;

		assert_int_equal(list(bad[i], &l, &next), -EBADMSG);
		assert_null(next);
		name_list_free(&l);
	}
}

/* No external entities: a SYSTEM entity is not fetched or expanded. */
static void test_no_entities(void **state)
{
	const char *xml = "<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
			  "<ListBucketResult><Contents><Key>k&x;</Key></Contents></ListBucketResult>";
	struct name_list l = { 0 };
	char *next = NULL;
	int r = list(xml, &l, &next);

	if (!r) {
		assert_int_equal(l.n, 1);
		assert_null(strstr(l.names[0], "root:"));
	}
	name_list_free(&l);
}

static void test_error_code(void **state)
{
	const char *xml = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>SignatureDoesNotMatch"
			  "</Code><Message>m</Message></Error>";
	char code[64];

	s3_xml_error_code(xml, strlen(xml), code, sizeof(code));
	assert_string_equal(code, "SignatureDoesNotMatch");
	s3_xml_error_code("<Error><Code>a\nb</Code></Error>", 31, code, sizeof(code));
	assert_string_equal(code, "a?b");
	s3_xml_error_code("junk", 4, code, sizeof(code));
	assert_string_equal(code, "");
	s3_xml_error_code("<Error><Code>ABCDEFGHIJ</Code></Error>", 38, code, 5);
	assert_string_equal(code, "ABCD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_page),
		cmocka_unit_test(test_last_page),
		cmocka_unit_test(test_not_a_list),
		cmocka_unit_test(test_no_entities),
		cmocka_unit_test(test_error_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
