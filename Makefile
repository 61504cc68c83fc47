# SPDX-License-Identifier: GPL-2.0
#
# layerfs: top-level build.  See README.rst for the two commands that matter.
#
#   make            build layerfs.ko, the userspace tools and the selftests
#   make check      run every test in a QEMU guest booting $(KVER)
#   make lint       checkpatch --strict, sparse, W=1 on the module
#   make bench      benchmarks (ratios against overlayfs / the bare lower fs)
#   make install    module into /lib/modules/$(KVER)/updates + depmod, tools
#   make vm-shell   interactive guest with the module loaded

# Newest installed Debian 6.12 kernel unless told otherwise.
KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.12\.' | sort -V | tail -n1)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build

export KVER KDIR BUILD

.PHONY: all module clean
all: module

module: $(BUILD)/kapi/kapi.h
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

$(BUILD)/kapi/kapi.h: scripts/kapi-probe.sh
	scripts/kapi-probe.sh $(KDIR) $(BUILD)/kapi

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	rm -rf $(BUILD)
