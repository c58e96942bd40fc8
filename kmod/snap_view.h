/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_SNAP_VIEW_H
#define CRYPTSNAP_SNAP_VIEW_H

#include <linux/types.h>

struct cs_snap;
struct cs_exception;
struct cs_view_io;

bool cs_snap_view_reading(struct cs_snap *s, unsigned long first,
			  unsigned long last);
bool cs_snap_view_reader_overlaps(struct cs_snap *s,
				  const struct cs_exception *e);
void cs_snap_view_unpark(struct cs_snap *s, const struct cs_exception *e);
void cs_snap_view_resubmit(struct cs_snap *s, struct cs_view_io *io);

#endif
