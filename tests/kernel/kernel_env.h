#pragma once
// Kernel tests need root, BPF and cgroup v2. Where they can't run they skip
// with the reason, except under CI (env CI set), where they must fail.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace egressd::ktest {

// CLOCK_BOOTTIME in ns, the clock of dns_learned expiries (bpf_ktime_get_boot_ns).
uint64_t bootNs();

// Empty when this machine can run kernel tests, else why not.
std::string kernelTestBlocker();
bool underCi();

}  // namespace egressd::ktest

// For SetUp() or a test body: skip (or fail under CI) when the kernel can't.
#define EGRESSD_REQUIRE_KERNEL()                                                        \
  do {                                                                                  \
    const std::string egressd_blocker_ = ::egressd::ktest::kernelTestBlocker();         \
    if (!egressd_blocker_.empty()) {                                                    \
      if (::egressd::ktest::underCi()) FAIL() << "kernel tests cannot run under CI: " << egressd_blocker_; \
      GTEST_SKIP() << "kernel tests skipped: " << egressd_blocker_;                     \
    }                                                                                   \
  } while (0)
