/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_POOL_H
#define CRYPTSNAP_POOL_H

struct cs_snap;
struct page_list;

int cs_pool_create(struct cs_snap *s, char **error);
void cs_pool_destroy(struct cs_snap *s);
struct page_list *cs_pool_take(struct cs_snap *s, unsigned int n);
void cs_pool_give(struct cs_snap *s, struct page_list *pages,
		  unsigned int n);

#endif
