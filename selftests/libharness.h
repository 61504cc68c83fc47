/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every layerfs test program includes first: the kselftest harness
 * (extracted from linux-source-6.12 at build time) and the test library.
 *
 * The suite builds with -Wall -Wextra -Werror; the harness's macros leave
 * parameters unused (the variant of a plain TEST, the signal handler's
 * context, and -Wclobbered flags a real harness bug), so those warnings
 * are off for test programs.
 *
 * The bug: with 6.12's harness built at -O2, a failed ASSERT in a TEST_F
 * body longjmps back into the fixture wrapper, which may then read a stale
 * copy of its fork() result; the test process takes itself for the parent,
 * skips FIXTURE_TEARDOWN and aborts, or runs a FIXTURE_TEARDOWN_PARENT
 * itself.  So the fixtures here clean up in FIXTURE_TEARDOWN_PARENT with
 * code that is right in either process (lfs_stack_remove: detach whatever
 * is mounted below the scratch directory, then remove it), and every test
 * process mounts in its own mount namespace (lfs_private_mount_ns), so its
 * mounts vanish with it.
 */
#ifndef LFS_SELFTEST_LIBHARNESS_H
#define LFS_SELFTEST_LIBHARNESS_H

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wclobbered"
#include "kselftest_harness.h"

#include "lib.h"

#endif /* LFS_SELFTEST_LIBHARNESS_H */
