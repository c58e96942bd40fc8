/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_S3_XML_H
#define CRYPTSNAP_S3_XML_H

/*
 * The S3 XML the S3 backend reads (store/s3.c): ListObjectsV2 pages and
 * error bodies.  The only libxml2 user.  The XML comes from the network and
 * is not trusted: no entities, no network, no DTD; sizes are bounded by
 * the caller.
 */
#include <stddef.h>

#include "store/backend.h"

/* Appends every <Contents><Key> of a ListObjectsV2 page to out (keys
 * verbatim); *next gets the NextContinuationToken (malloc'd) when the page
 * says IsTruncated=true, else NULL.  -EBADMSG on XML that is not a list. */
int s3_xml_list(const char *xml, size_t len, struct name_list *out, char **next);

/* The <Code> of an S3 <Error> body into code (empty when there is none). */
void s3_xml_error_code(const char *xml, size_t len, char *code, size_t codelen);

#endif
