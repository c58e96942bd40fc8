// SPDX-License-Identifier: GPL-2.0
/* S3 response XML through libxml2 (store/s3_xml.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "store/s3_xml.h"

#define XML_OPTS (XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | \
		  XML_PARSE_NOWARNING)

static int is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
	for (n = n->children; n; n = n->next)
		if (is(n, name))
			return n;
	return NULL;
}

/* The text of element n, or NULL; xmlFree() it. */
static char *text(const xmlNode *n)
{
	return n ? (char *)xmlNodeGetContent(n) : NULL;
}

static xmlDoc *parse(const char *xml, size_t len)
{
	if (len > 64u << 20)
		return NULL;
	return xmlReadMemory(xml, (int)len, "s3.xml", NULL, XML_OPTS);
}

static int list_page(const xmlNode *root, struct name_list *out, char **next)
{
	const xmlNode *n;
	char *t;
	int r = 0;

	for (n = root->children; !r && n; n = n->next) {
		if (!is(n, "Contents"))
			continue;
		t = text(child(n, "Key"));
		if (!t)
			return -EBADMSG;
		r = name_list_add(out, t);
		xmlFree(t);
	}
	t = text(child(root, "IsTruncated"));
	if (!r && t && !strcmp(t, "true")) {
		char *tok = text(child(root, "NextContinuationToken"));

		*next = tok ? strdup(tok) : NULL;
		if (tok)
			xmlFree(tok);
		if (!*next)
			r = tok ? -ENOMEM : -EBADMSG;
	}
	if (t)
		xmlFree(t);
	return r;
}

int s3_xml_list(const char *xml, size_t len, struct name_list *out, char **next)
{
	xmlDoc *doc = parse(xml, len);
	const xmlNode *root;
	int r;

	*next = NULL;
	if (!doc)
		return -EBADMSG;
	root = xmlDocGetRootElement(doc);
	r = root && is(root, "ListBucketResult") ? list_page(root, out, next) : -EBADMSG;
	xmlFreeDoc(doc);
	return r;
}

void s3_xml_error_code(const char *xml, size_t len, char *code, size_t codelen)
{
	xmlDoc *doc = parse(xml, len);
	const xmlNode *root;
	char *t = NULL;

	code[0] = 0;
	if (!doc)
		return;
	root = xmlDocGetRootElement(doc);
	if (root && is(root, "Error"))
		t = text(child(root, "Code"));
	if (t) {
		size_t i;

		/* Shown to the user: printable ASCII only. */
		for (i = 0; t[i] && i + 1 < codelen; i++)
			code[i] = t[i] > 0x20 && t[i] < 0x7f ? t[i] : '?';
		code[i] = 0;
		xmlFree(t);
	}
	xmlFreeDoc(doc);
}
