#include "kernel/kernel_env.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "bpf/cgroup.h"

namespace egressd::ktest {

std::string kernelTestBlocker() {
  if (::geteuid() != 0) return "not running as root";
  if (egressd::bpf::cgroup2MountRoot().empty()) return "no cgroup2 filesystem mounted";
  const int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "egressd_probe", 4, 4, 1, nullptr);
  if (fd < 0) return std::string("BPF unavailable: ") + std::strerror(errno);
  ::close(fd);
  return {};
}

bool underCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

uint64_t bootNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace egressd::ktest
