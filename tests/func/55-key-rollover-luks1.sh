#!/bin/bash
# Issue 9: key rollover (54-key-rollover.sh) on a LUKS1 disk.
LUKS_TYPE=luks1 T_NAME=55-key-rollover-luks1 exec bash "$(dirname "$0")/54-key-rollover.sh"
