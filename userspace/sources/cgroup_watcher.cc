#include "sources/cgroup_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace egressd::sources {
namespace {

// cgroupfs reports mkdir/rmdir of a child cgroup on the parent, and a change
// of cgroup.events (populated, frozen) as a modification of that file.
constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_ONLYDIR;
constexpr uint32_t kFileMask = IN_MODIFY | IN_DELETE_SELF;

}  // namespace

Result<CgroupWatcher> CgroupWatcher::open() {
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return fail(std::string("inotify_init1: ") + std::strerror(errno));
  return CgroupWatcher(fd);
}

CgroupWatcher::CgroupWatcher(CgroupWatcher&& other) noexcept
    : inotify_fd_(other.inotify_fd_), dirs_(std::move(other.dirs_)), files_(std::move(other.files_)) {
  other.inotify_fd_ = -1;
}

CgroupWatcher::~CgroupWatcher() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

void CgroupWatcher::watch(const std::set<std::string>& dirs, const std::set<std::string>& files) {
  // inotify gives one descriptor per inode: re-adding a path is cheap and
  // returns the same one, so rebuild the tables and drop what is not wanted.
  std::map<int, std::string> new_dirs, new_files;
  for (const auto& dir : dirs) {
    int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask);
    if (wd >= 0) new_dirs[wd] = dir;
  }
  for (const auto& file : files) {
    int wd = inotify_add_watch(inotify_fd_, file.c_str(), kFileMask);
    if (wd >= 0) new_files[wd] = file;
  }
  for (const auto* old : {&dirs_, &files_})
    for (const auto& [wd, path] : *old)
      if (!new_dirs.count(wd) && !new_files.count(wd)) inotify_rm_watch(inotify_fd_, wd);
  dirs_ = std::move(new_dirs);
  files_ = std::move(new_files);
}

CgroupWatcher::Changes CgroupWatcher::drain() {
  alignas(inotify_event) char buf[16384];
  Changes changes;
  for (;;) {
    ssize_t n = read(inotify_fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        changes.directories = changes.files = true;  // lost some: look at everything
        continue;
      }
      if (dirs_.count(event->wd)) {
        // Only subdirectories are cgroups; the interface files never come and go.
        if ((event->mask & IN_ISDIR) || (event->mask & IN_DELETE_SELF)) changes.directories = true;
      } else if (files_.count(event->wd)) {
        changes.files = true;
        if (event->mask & (IN_DELETE_SELF | IN_IGNORED)) changes.directories = true;
      }
    }
  }
  return changes;
}

Result<CgroupWatcher::Changes> CgroupWatcher::wait(std::chrono::milliseconds timeout) {
  pollfd pfd{inotify_fd_, POLLIN, 0};
  int rc = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (rc < 0) {
    if (errno == EINTR) return Changes{};
    return fail(std::string("poll inotify: ") + std::strerror(errno));
  }
  return rc == 0 ? Changes{} : drain();
}

}  // namespace egressd::sources
