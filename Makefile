# cryptsnap top-level Makefile.
#   make                 tool + module for the default kernel
#   make KVER=<release>  module against another installed header set
#   make check           host unit tests + VM suite on every supported kernel
#   make demo            the main job in the test VM
#   make deps            install every dependency (root, idempotent)

SHELL := /bin/bash
TOP := $(CURDIR)

# Supported kernels: Debian 12's 6.1 and bookworm-backports' 6.12, whatever
# their current ABI release is.  Found among installed header sets.
KVER_61 = $(notdir $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64))))
KVER_612 = $(notdir $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12.*-amd64))))
KVERS ?= $(patsubst linux-headers-%,%,$(KVER_61) $(KVER_612))
KVER ?= $(if $(wildcard /lib/modules/$(shell uname -r)/build),$(shell uname -r),$(firstword $(KVERS)))

BUILD := $(TOP)/build
V ?= 0
Q := $(if $(filter 1,$(V)),,@)

.PHONY: all tool module modules check check-unit check-cli check-vm demo deps \
	dkms-check bench clean
all: tool module

tool:
	$(Q)$(MAKE) --no-print-directory -C userspace V=$(V)

# Each kernel gets its own copy of the sources so out-of-tree objects of
# different kernels never mix.
module: $(BUILD)/$(KVER)/dm-cryptsnap.ko
	$(Q)ln -sf build/$(KVER)/dm-cryptsnap.ko dm-cryptsnap.ko

modules:
	$(Q)for k in $(KVERS); do $(MAKE) --no-print-directory module KVER=$$k || exit 1; done

KSRC := Kbuild $(wildcard kmod/*.c kmod/*.h include/*.h)
$(BUILD)/%/dm-cryptsnap.ko: $(KSRC)
	$(Q)test -d /lib/modules/$*/build || { echo "no kernel headers for $*: run 'make deps'" >&2; exit 1; }
	$(Q)mkdir -p $(BUILD)/$*/src
	$(Q)cp -a Kbuild kmod include $(BUILD)/$*/src/
	$(Q)$(MAKE) --no-print-directory -C /lib/modules/$*/build M=$(BUILD)/$*/src modules 2>&1 | tee $(BUILD)/$*/build.log; \
	  test $${PIPESTATUS[0]} = 0 || exit 1; \
	  if grep -qi 'warning' $(BUILD)/$*/build.log; then echo "module build for $* has warnings" >&2; exit 1; fi
	$(Q)cp $(BUILD)/$*/src/dm-cryptsnap.ko $@

deps:
	$(Q)bash scripts/deps.sh

check-unit: tool
	$(Q)$(MAKE) --no-print-directory -C tests/unit run

check-cli: tool
	$(Q)bash tests/cli/run.sh

check-vm: tool modules
	$(Q)bash scripts/vm-check.sh $(KVERS)

dkms-check:
	$(Q)bash scripts/dkms-check.sh $(KVERS)

# The one command CI runs.  Every step appends TAP-ish results to one
# summary; the last line is "N passed, N failed".
check: deps
	$(Q)bash scripts/check.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all modules
	$(Q)bash scripts/vm-run.sh --demo $(firstword $(KVERS))

bench: deps
	$(Q)$(MAKE) --no-print-directory all modules
	$(Q)bash scripts/vm-run.sh --bench $(firstword $(KVERS))

clean:
	$(Q)rm -rf $(BUILD) dm-cryptsnap.ko
	$(Q)$(MAKE) --no-print-directory -C userspace clean
	$(Q)$(MAKE) --no-print-directory -C tests/unit clean

print-kvers:
	@echo $(KVERS)
