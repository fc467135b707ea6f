#include "bpf/cgroup.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "bpf/errno_text.h"

namespace egressd::bpf {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountField(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string oct = field.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

}  // namespace

std::string cgroup2MountRoot() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mountpoint options [optional...] - fstype source superopts
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream tail(line.substr(sep + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream head(line.substr(0, sep));
    std::string id, parent, dev, root, mountpoint;
    head >> id >> parent >> dev >> root >> mountpoint;
    if (!mountpoint.empty()) return unescapeMountField(mountpoint);
  }
  return {};
}

Result<uint64_t> cgroupIdOf(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return fail(errnoMessage("cgroup " + path, errno));
  if (fs.f_type != CGROUP2_SUPER_MAGIC) return fail("cgroup " + path + ": not on a cgroup v2 filesystem");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(errnoMessage("cgroup " + path, errno));
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace egressd::bpf
