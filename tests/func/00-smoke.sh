#!/bin/bash
# The VM itself: module loaded, tools run, disks present.
. "$(dirname "$0")/lib.sh"

t_check "dm-cryptsnap is loaded" grep -q '^dm_cryptsnap ' /proc/modules
t_check "cryptsnap target registered" bash -c "dmsetup targets | grep -q '^cryptsnap '"
t_check "cryptsnap tool runs" cryptsnap version
t_check "virtio disks present" test -b /dev/vda -a -b /dev/vdb -a -b /dev/vdc -a -b /dev/vdd
t_check "cryptsetup runs" cryptsetup --version
