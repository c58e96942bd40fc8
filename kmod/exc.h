/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_EXC_H
#define CRYPTSNAP_EXC_H

#include <linux/bio.h>
#include <linux/list.h>
#include <linux/rbtree.h>

struct cs_snap;

/* Where a run's old data is. */
enum cs_exc_state {
	CS_EXC_READING,		/* on the origin, being read */
	CS_EXC_WRITING,		/* in memory, being written to COW */
	CS_EXC_ON_COW,		/* in the COW store */
	CS_EXC_FAILED,		/* lost: the snapshot is no longer active */
};

struct cs_exception {
	struct rb_node rb;
	struct list_head node;		/* on @pending until released */
	unsigned long first, last;	/* chunks */
	unsigned long slot;		/* COW slot of @first */
	enum cs_exc_state state;
	struct bio_list waiters;	/* origin bios held for this run */
};

struct cs_exception *cs_exc_lookup(struct cs_snap *s, unsigned long c);
void cs_exc_insert(struct cs_snap *s, struct cs_exception *e);
void cs_exc_free_all(struct cs_snap *s);

#endif
