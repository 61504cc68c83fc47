# SPDX-License-Identifier: GPL-2.0
#
# layerfs: top-level build.  See README.rst for the two commands that matter.
#
#   make            build layerfs.ko, the userspace tools and the selftests
#   make check      lint, then run every test in a QEMU guest booting $(KVER)
#   make lint       checkpatch --strict, sparse, W=1 on the module
#   make bench      benchmarks against the bare lower fs and overlayfs
#   make stage      install the module into $(BUILD)/stage (INSTALL_MOD_PATH)
#   make install    module into /lib/modules/$(KVER)/updates + depmod, tools,
#                   man pages and layerd.service (user/Makefile install)
#   make vm-shell   interactive guest with the module loaded

# Newest installed Debian 6.12 kernel unless told otherwise.
KVER ?= $(shell ls -1 /lib/modules 2>/dev/null | grep '^6\.12\.' | sort -V | tail -n1)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build

# Kernel source tarball of Debian's linux-source-6.12: the kselftest harness
# headers and checkpatch.pl are extracted from it at build time.
LINUX_SRC ?= /usr/src/linux-source-6.12.tar.xz
# Whole VM run of `make check`, seconds (a hung guest is killed after it).
CHECK_TIMEOUT ?= 2700
# `make install` honours DESTDIR and INSTALL_MOD_PATH (module root).
DESTDIR ?=
INSTALL_MOD_PATH ?=

export KVER KDIR BUILD CHECK_TIMEOUT

.PHONY: all module selftests user stage install lint check bench vm-shell clean
all: module selftests user

# Userspace (liblayerfs, layerctl, layerd): a self-contained make in user/, built in
# its own directory so it never mixes with the kernel build's $(BUILD).
USER_BUILD := $(BUILD)/user
user:
	$(MAKE) -C user BUILD=$(USER_BUILD)

module: $(BUILD)/kapi/.probed
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Probed again when the headers change (a Debian update of 6.12.y can
# change a signature).  The stamp, not kapi.h, carries the time of the
# probe: kapi.h is rewritten only when its content changes, so that the
# module is not rebuilt for nothing.
$(BUILD)/kapi/.probed: scripts/kapi-probe.sh $(wildcard $(KDIR)/include/generated/utsrelease.h)
	scripts/kapi-probe.sh $(KDIR) $(BUILD)/kapi
	touch $@

# --- pieces of linux-source-6.12, never committed ----------------------------

KSFT_DIR := $(BUILD)/ksft
CHECKPATCH_DIR := $(BUILD)/checkpatch
LINUX_SRC_STAMP := $(BUILD)/.linux-src-extracted

# One pass over the 140 MB tarball (xz: ~15 s) for both.
$(LINUX_SRC_STAMP): $(wildcard $(LINUX_SRC))
	@test -r $(LINUX_SRC) || { echo "$(LINUX_SRC) missing: run scripts/install-deps.sh (linux-source-6.12)" >&2; exit 1; }
	rm -rf $(BUILD)/.linux-src $(KSFT_DIR) $(CHECKPATCH_DIR)
	mkdir -p $(BUILD)/.linux-src $(KSFT_DIR) $(CHECKPATCH_DIR)
	tar -xJf $(LINUX_SRC) -C $(BUILD)/.linux-src --wildcards \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	mv $(BUILD)/.linux-src/*/tools/testing/selftests/kselftest*.h $(KSFT_DIR)/
	mv $(BUILD)/.linux-src/*/scripts/checkpatch.pl \
		$(BUILD)/.linux-src/*/scripts/spelling.txt \
		$(BUILD)/.linux-src/*/scripts/const_structs.checkpatch $(CHECKPATCH_DIR)/
	rm -rf $(BUILD)/.linux-src
	touch $@

# --- selftests ------------------------------------------------------------------
# Every selftests/*.c is a test program (kselftest harness, TAP output) except
# selftests/lib*.c, which are linked into each.  The harness headers come in
# with -isystem: they do not build with -Wextra -Werror themselves (unused
# parameters in TEST() wrappers); our code still does.

SELFTEST_SRCS := $(filter-out selftests/lib%.c,$(wildcard selftests/*.c))
SELFTEST_LIB_OBJS := $(patsubst selftests/%.c,$(BUILD)/selftests/obj/%.o,$(wildcard selftests/lib*.c))
SELFTEST_BINS := $(patsubst selftests/%.c,$(BUILD)/selftests/%,$(SELFTEST_SRCS))
SELFTEST_CFLAGS := -O2 -g -Wall -Wextra -Werror -std=gnu11 \
	-isystem $(KSFT_DIR) -Iinclude -Iinclude/uapi -Iselftests -MMD -MP
SELFTEST_LDLIBS := -lpthread
CRASH_TOOL := $(BUILD)/crash/lfs-crash
SELFTEST_OBJS := $(patsubst selftests/%.c,$(BUILD)/selftests/obj/%.o,$(SELFTEST_SRCS)) $(SELFTEST_LIB_OBJS)
# selftests/*.sh are test scripts with TAP output, installed without the
# suffix and run like the programs.
SELFTEST_SCRIPTS := $(patsubst selftests/%.sh,$(BUILD)/selftests/%,$(wildcard selftests/*.sh))
SELFTEST_STALE := $(filter-out $(SELFTEST_BINS) $(SELFTEST_SCRIPTS) $(BUILD)/selftests/obj,$(wildcard $(BUILD)/selftests/*))

# Keep the objects (make would delete them as intermediates).
.SECONDARY: $(SELFTEST_OBJS)

selftests: $(LINUX_SRC_STAMP) $(SELFTEST_BINS) $(SELFTEST_SCRIPTS) $(CRASH_TOOL)
ifneq ($(SELFTEST_STALE),)
	rm -f $(SELFTEST_STALE)
endif

$(BUILD)/selftests/obj/%.o: selftests/%.c $(LINUX_SRC_STAMP)
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/selftests/%: $(BUILD)/selftests/obj/%.o $(SELFTEST_LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(SELFTEST_LDLIBS)

$(SELFTEST_SCRIPTS): $(BUILD)/selftests/%: selftests/%.sh
	install -D -m 0755 $< $@

-include $(wildcard $(BUILD)/selftests/obj/*.d)

# The crash test's writer and checker (scripts/crash-test): not a selftest
# program, so it lives outside $(BUILD)/selftests, where run-tests looks.
$(CRASH_TOOL): selftests/crash/lfs-crash.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -std=gnu11 $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

# --- installing the module --------------------------------------------------------
# Debian's config has MODULE_SIG_ALL=y but the headers carry no signing key:
# do not try (the module is unsigned, as any out-of-tree build).  Kbuild
# installs layerfs.ko.xz under <root>/lib/modules/$(KVER)/updates/ and writes
# nothing outside <root>.

modules_install = $(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(1) \
	INSTALL_MOD_DIR=updates CONFIG_MODULE_SIG_ALL= modules_install

# A module root holding only layerfs, for `modprobe -d $(BUILD)/stage layerfs`
# in the test VM (scripts/run-tests); builtin lists copied so modprobe
# resolves built-in dependencies there too.
stage: module
	rm -rf $(BUILD)/stage
	$(call modules_install,$(BUILD)/stage)
	cp /lib/modules/$(KVER)/modules.builtin /lib/modules/$(KVER)/modules.builtin.modinfo \
		$(BUILD)/stage/lib/modules/$(KVER)/
	cd $(BUILD)/stage/lib/modules/$(KVER) && \
		find updates -name '*.ko*' | sed 's/\.ko\..*$$/.ko/' | LC_ALL=C sort >modules.order
	depmod -b $(BUILD)/stage $(KVER)

# DESTDIR is a packaging root: its module indexes would clash with the real
# ones, so depmod is left to the target (a package's postinst).
# INSTALL_MOD_PATH is a system root (a chroot, an image): depmod -b there.
PREFIX ?= /usr/local
install: module user
	$(MAKE) -C user BUILD=$(USER_BUILD) DESTDIR=$(DESTDIR) PREFIX=$(PREFIX) install
	$(call modules_install,$(DESTDIR)$(INSTALL_MOD_PATH))
ifneq ($(DESTDIR),)
	@echo "DESTDIR install: run 'depmod $(KVER)' on the target"
else
	depmod $(if $(INSTALL_MOD_PATH),-b $(INSTALL_MOD_PATH)) $(KVER)
endif

# --- checks -------------------------------------------------------------------------

lint: $(BUILD)/kapi/.probed $(LINUX_SRC_STAMP)
	scripts/lint

# Lint and the VM run both count in the last line, "N passed, N failed, N
# skipped" (scripts/vm-check); a crashed or hung guest is a failure.
check: all stage $(LINUX_SRC_STAMP)
	scripts/vm-check

# Benchmarks in a VM: ratios against the bare lower fs and overlayfs, never
# pass/fail on a goal (Documentation/filesystems/layerfs-bench.rst).
bench: all stage
	scripts/bench/run

vm-shell: all stage
	scripts/vm-run --shell --disks --timeout 0

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	-$(MAKE) -C user clean
	rm -rf $(BUILD)
