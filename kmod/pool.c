// SPDX-License-Identifier: GPL-2.0
/*
 * The copy buffer pool of a snapshot: the pages that hold a run's old
 * data from the end of its read from the origin to the end of its COW
 * write.
 *
 *  - Every page is allocated when the snapshot is created (process
 *    context, may sleep) and freed with its last reference; in between
 *    the I/O paths never allocate a buffer.
 *  - The free list (@pool_free, @pool_nr_free) is under s->lock.  Pages
 *    are taken by the worker and given back when a copy ends, which may
 *    be in interrupt context: taking and giving never sleep.
 *  - Origin writes that found the pool empty wait on @nopages; giving
 *    pages back hands them to the worker again (the caller kicks it).
 */
#include <linux/bio.h>
#include <linux/dm-io.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "snap_int.h"
#include "pool.h"

/* Longest run copied by one job (at least one chunk): bounds its latency. */
#define CS_MAX_RUN_BYTES	(1UL << 20)
/*
 * Pages holding old data between a copy's read and its COW write.  Enough
 * for a deep queue of first writes; at least two runs so a copy can start
 * while another one's COW write is in flight.
 */
#define CS_POOL_BYTES		(4UL << 20)

/* Take @n pages off the free list; the caller made sure there are. */
struct page_list *cs_pool_take(struct cs_snap *s, unsigned int n)
{
	struct page_list *head = s->pool_free, *pl = head;
	unsigned int i;

	lockdep_assert_held(&s->lock);
	for (i = 1; i < n; i++)
		pl = pl->next;
	s->pool_free = pl->next;
	pl->next = NULL;
	s->pool_nr_free -= n;
	return head;
}

void cs_pool_give(struct cs_snap *s, struct page_list *pages,
		  unsigned int n)
{
	struct page_list *pl = pages;

	lockdep_assert_held(&s->lock);
	while (pl->next)
		pl = pl->next;
	pl->next = s->pool_free;
	s->pool_free = pages;
	s->pool_nr_free += n;
	/* Writes that waited for buffers may try again. */
	bio_list_merge(&s->deferred, &s->nopages);
	bio_list_init(&s->nopages);
}

/* Before the snapshot is shared, or after its last reference: no lock. */
void cs_pool_destroy(struct cs_snap *s)
{
	unsigned int i;

	for (i = 0; i < s->pool_pages; i++)
		if (s->pool[i].page)
			__free_page(s->pool[i].page);
	kvfree(s->pool);
}

/*
 * The copy buffers, allocated up front so a first write never waits for
 * memory reclaim: room for two of the longest runs, and CS_POOL_BYTES.
 */
int cs_pool_create(struct cs_snap *s, char **error)
{
	unsigned long chunk_bytes = 1UL << (s->chunk_shift + SECTOR_SHIFT);
	unsigned long bytes;
	unsigned int i;

	s->chunk_pages = DIV_ROUND_UP(chunk_bytes, PAGE_SIZE);
	s->max_run = max(1UL, CS_MAX_RUN_BYTES / chunk_bytes);
	bytes = max(CS_POOL_BYTES, 2 * s->max_run * chunk_bytes);
	s->pool_pages = bytes >> PAGE_SHIFT;
	s->pool = kvcalloc(s->pool_pages, sizeof(*s->pool), GFP_KERNEL);
	if (!s->pool)
		goto err;
	for (i = 0; i < s->pool_pages; i++) {
		s->pool[i].page = alloc_page(GFP_KERNEL);
		if (!s->pool[i].page)
			goto err;
		s->pool[i].next = i + 1 < s->pool_pages ? &s->pool[i + 1] : NULL;
	}
	s->pool_free = s->pool;
	s->pool_nr_free = s->pool_pages;
	return 0;
err:
	if (s->pool)
		cs_pool_destroy(s);
	s->pool = NULL;
	*error = "Cannot allocate copy buffers";
	return -ENOMEM;
}
