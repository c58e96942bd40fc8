/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version shims, force-included by Kbuild.  The only place in the
 * module allowed to test LINUX_VERSION_CODE.  Supported: 6.1 .. 6.12
 * (pinned by BUILD_EXCLUSIVE_KERNEL in dkms.conf).
 */
#ifndef CRYPTSNAP_COMPAT_H
#define CRYPTSNAP_COMPAT_H

#include <linux/version.h>

#endif
