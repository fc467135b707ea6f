#include "bpf/cgroup_link.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "bpf/errno_text.h"
#include "bpf/unique_fd.h"

namespace egressd::bpf {
namespace {

Result<LinkPtr> attachNew(const CgroupLinkRequest& request) {
  const std::string what = "attach cgroup/" + request.hook + " to " + request.cgroup_path;
  UniqueFd cgroup(::open(request.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) return fail(errnoMessage(what, errno));
  LinkPtr link(bpf_program__attach_cgroup(request.program, cgroup.get()));
  if (!link) return fail(errnoMessage(what, errno));
  return link;
}

Status pin(bpf_link* link, const std::string& path) {
  if (int err = bpf_link__pin(link, path.c_str()); err != 0) return fail(errnoMessage("pin link " + path, err));
  return Ok{};
}

// True when the pinned link hooks the same program type at the same cgroup.
bool sameAttachment(bpf_link* link, const CgroupLinkRequest& request) {
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) != 0) {
    spdlog::warn("{}", errnoMessage("inspect pinned link " + request.pin_path, errno));
    return false;
  }
  if (info.type != BPF_LINK_TYPE_CGROUP ||
      info.cgroup.attach_type != static_cast<__u32>(bpf_program__expected_attach_type(request.program))) {
    spdlog::warn("pinned link {} is not a cgroup/{} link: replacing it", request.pin_path, request.hook);
    return false;
  }
  if (info.cgroup.cgroup_id != request.cgroup_id) {
    spdlog::info("pinned link {} is attached to cgroup id {}, requested {} (id {}): re-attaching", request.pin_path,
                 info.cgroup.cgroup_id, request.cgroup_path, request.cgroup_id);
    return false;
  }
  return true;
}

}  // namespace

Result<CgroupLink> attachOrAdoptCgroupLink(const CgroupLinkRequest& request) {
  LinkPtr old;
  if (::access(request.pin_path.c_str(), F_OK) == 0) {
    old.reset(bpf_link__open(request.pin_path.c_str()));
    if (!old) {
      spdlog::warn("{}: removing the pin", errnoMessage("open pinned link " + request.pin_path, errno));
      ::unlink(request.pin_path.c_str());
    } else if (sameAttachment(old.get(), request)) {
      if (int err = bpf_link__update_program(old.get(), request.program); err == 0)
        return CgroupLink{std::move(old), true};
      else
        spdlog::warn("{}: re-attaching", errnoMessage("update pinned link " + request.pin_path, err));
    }
  }

  // New link first, so the hook is never missing; then retire the old one.
  auto link = attachNew(request);
  if (!link) return fail(link.error());
  if (old) {
    if (bpf_link__unpin(old.get()) != 0) ::unlink(request.pin_path.c_str());
    if (bpf_link__detach(old.get()) != 0 && errno != ENOLINK)
      spdlog::warn("{}", errnoMessage("detach stale link " + request.pin_path, errno));
  }
  if (auto st = pin(link->get(), request.pin_path); !st) return fail(st.error());
  return CgroupLink{std::move(*link), false};
}

}  // namespace egressd::bpf
