#!/bin/bash
# Issue 5: the main story (50-protect-backup.sh) on a LUKS1 disk.
LUKS_TYPE=luks1 T_NAME=52-protect-luks1 exec bash "$(dirname "$0")/50-protect-backup.sh"
