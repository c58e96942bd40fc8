/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CRYPTSNAP_COPY_H
#define CRYPTSNAP_COPY_H

struct cs_snap;

void cs_copy_kick(struct cs_snap *s);
void cs_copy_release_blocked(struct cs_snap *s);

#endif
