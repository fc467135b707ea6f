#pragma once
// What egressd needs of the kernel, probed before anything is loaded, so
// that a kernel without it gets one message naming each missing feature and
// the Linux release that brought it, instead of a verifier log. Features
// are probed (program, map and attach types, helpers per program type), not
// read from the version string: distributions backport, and a version says
// nothing about what a vendor left out. docs/KERNELS.md has the table.
#include <string>
#include <vector>

#include "common/result.h"

namespace egressd::bpf {

struct KernelFeature {
  std::string name;   // what it is and where the code uses it
  std::string since;  // the Linux release that brought it, e.g. "5.8"
};

// Every feature the agent's programs use, with the release that brought it.
const std::vector<KernelFeature>& requiredKernelFeatures();

// The ones this kernel lacks (empty: all there). An error when the kernel
// can't be asked (no privilege to load a program, BPF disabled).
Result<std::vector<KernelFeature>> missingKernelFeatures();

// The oldest kernel the tests run on: Debian 12's (scripts/test-kernel.sh 6.1).
inline constexpr const char* kOldestTestedKernel = "6.1";

// The start check's verdict for a kernel of this release (uname -r) that
// lacks `missing`: an error naming each missing feature, the release that
// brings them all, and the oldest tested kernel.
Status kernelSupport(const std::string& release, const std::vector<KernelFeature>& missing);

// True when release (uname -r, "6.1.0-57-amd64") is older than the oldest
// tested kernel; false when it can't be read.
bool olderThanTested(const std::string& release);

}  // namespace egressd::bpf
