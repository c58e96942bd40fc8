// SPDX-License-Identifier: GPL-2.0
/*
 * The exception index of a snapshot: @exceptions, an rb-tree of runs,
 * each mapping the chunks first..last to the COW slots from @slot on.
 *
 *  - Runs never overlap, so a chunk is in at most one run and the tree
 *    is searched by chunk.
 *  - The tree is under s->lock.  Runs are inserted only by the worker;
 *    lookups also come from a view's map().  Nothing here sleeps.
 *  - A run leaves the tree only when the snapshot's last reference goes,
 *    so a run found under the lock stays valid after it is dropped.
 */
#include <linux/lockdep.h>
#include <linux/rbtree.h>
#include <linux/slab.h>

#include "snap_int.h"
#include "exc.h"

static int exc_cmp_key(const void *key, const struct rb_node *n)
{
	unsigned long c = *(const unsigned long *)key;
	const struct cs_exception *e = rb_entry(n, struct cs_exception, rb);

	if (c < e->first)
		return -1;
	if (c > e->last)
		return 1;
	return 0;
}

static bool exc_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct cs_exception, rb)->first <
	       rb_entry(b, struct cs_exception, rb)->first;
}

struct cs_exception *cs_exc_lookup(struct cs_snap *s, unsigned long c)
{
	struct rb_node *n;

	lockdep_assert_held(&s->lock);
	n = rb_find(&c, &s->exceptions, exc_cmp_key);
	return n ? rb_entry(n, struct cs_exception, rb) : NULL;
}

void cs_exc_insert(struct cs_snap *s, struct cs_exception *e)
{
	lockdep_assert_held(&s->lock);
	rb_add(&e->rb, &s->exceptions, exc_less);
}

/* The snapshot's last reference: nothing else sees the tree, no lock. */
void cs_exc_free_all(struct cs_snap *s)
{
	struct cs_exception *e, *tmp;

	rbtree_postorder_for_each_entry_safe(e, tmp, &s->exceptions, rb)
		kfree(e);
}
