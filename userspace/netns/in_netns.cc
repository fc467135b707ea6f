#include "netns/in_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <thread>

#include "bpf/errno_text.h"

namespace egressd::netns {

using bpf::errnoMessage;

Status runInNetns(int netns_fd, const std::function<Status()>& fn) {
  Status result = Ok{};
  std::thread worker([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      result = fail(errnoMessage("join network namespace", errno));
      return;
    }
    result = fn();
  });
  worker.join();
  return result;
}

Result<uint64_t> netnsInode(int netns_fd) {
  struct stat st{};
  if (::fstat(netns_fd, &st) != 0) return fail(errnoMessage("stat network namespace", errno));
  return static_cast<uint64_t>(st.st_ino);
}

Result<uint64_t> netnsInode(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return fail(errnoMessage("stat " + path, errno));
  return static_cast<uint64_t>(st.st_ino);
}

}  // namespace egressd::netns
