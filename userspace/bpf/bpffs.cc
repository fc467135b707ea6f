#include "bpf/bpffs.h"

#include <bpf/bpf.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

#include "bpf/errno_text.h"
#include "bpf/unique_fd.h"

namespace egressd::bpf {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDefaultBpffs = "/sys/fs/bpf";

bool isBpffs(const fs::path& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

// The nearest existing directory at or above path: it tells which
// filesystem path will land on.
fs::path nearestExisting(fs::path path) {
  std::error_code ec;
  while (!path.empty() && !fs::exists(path, ec) && path != path.root_path()) path = path.parent_path();
  return path.empty() ? fs::path("/") : path;
}

bool isUnder(const fs::path& path, const fs::path& base) {
  auto rel = path.lexically_normal().lexically_relative(base);
  return !rel.empty() && *rel.begin() != "..";
}

Status mountBpffs(const fs::path& target) {
  if (::mount("bpf", target.c_str(), "bpf", 0, "mode=0700") != 0)
    return fail(errnoMessage("mount -t bpf on " + target.string(), errno));
  spdlog::info("mounted bpffs on {}", target.string());
  return Ok{};
}

Status mkdirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail("mkdir -p " + dir.string() + ": " + ec.message());
  return Ok{};
}

// Removes the non-directory entries of dir; links are detached first so the
// kernel lets go of them even if something else still holds a reference.
Status removePins(const fs::path& dir, bool detach_links) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Ok{};
  Status result = Ok{};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) continue;
    const std::string path = entry.path().string();
    if (detach_links) {
      UniqueFd fd(bpf_obj_get(path.c_str()));
      if (fd.valid() && bpf_link_detach(fd.get()) != 0 && errno != ENOLINK)
        spdlog::warn("{}", errnoMessage("detach link " + path, errno));
    }
    if (::unlink(path.c_str()) != 0 && result.ok()) result = fail(errnoMessage("unpin " + path, errno));
  }
  if (ec && result.ok()) result = fail("list " + dir.string() + ": " + ec.message());
  return result;
}

}  // namespace

Status ensureBpffs(const std::string& dir) {
  const fs::path target = fs::path(dir).lexically_normal();
  if (!isBpffs(nearestExisting(target))) {
    std::error_code ec;
    if (isUnder(target, kDefaultBpffs) && fs::is_directory(kDefaultBpffs, ec) && !isBpffs(kDefaultBpffs)) {
      if (auto st = mountBpffs(kDefaultBpffs); !st) return st;
    } else {
      if (auto st = mkdirs(target); !st) return st;
      if (auto st = mountBpffs(target); !st) return st;
    }
  }
  if (auto st = mkdirs(target); !st) return st;
  return mkdirs(linksDir(dir));
}

Status removePinDir(const std::string& dir) {
  if (auto st = removePins(dir, /*detach_links=*/false); !st) return st;
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return fail(errnoMessage("rmdir " + dir, errno));
  return Ok{};
}

Status unpinAll(const std::string& bpffs_dir) {
  Status result = removePins(linksDir(bpffs_dir), /*detach_links=*/true);
  if (auto st = removePins(stagingDir(bpffs_dir), false); !st && result.ok()) result = st;
  if (auto st = removePins(bpffs_dir, false); !st && result.ok()) result = st;
  for (const auto& dir : {linksDir(bpffs_dir), stagingDir(bpffs_dir), bpffs_dir}) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && result.ok())
      result = fail(errnoMessage("rmdir " + dir, errno));
  }
  return result;
}

}  // namespace egressd::bpf
