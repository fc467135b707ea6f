#include "bpf/tc_link.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

#include "bpf/errno_text.h"

namespace egressd::bpf {
namespace {

// From the kernel's uapi (6.6+); Debian 12's headers predate tcx.
constexpr int kBpfTcxIngress = 46;
constexpr int kBpfTcxEgress = 47;
constexpr uint32_t kBpfLinkTypeTcx = 11;
// Our clsact filter's identity, so a restart replaces it in place.
constexpr uint32_t kClsactHandle = 0xe9d;
constexpr uint32_t kClsactPriority = 1;

int tcxAttachType(TcHook hook) { return hook == TcHook::kIngress ? kBpfTcxIngress : kBpfTcxEgress; }

std::string where(const TcAttachRequest& r) {
  return std::string("tc/") + tcHookName(r.hook) + " on ifindex " + std::to_string(r.ifindex);
}

// The pinned tcx link, if it is ours on this interface and hook. A link
// whose interface is gone (ifindex 0) or that is something else is unpinned.
UniqueFd adoptablePinnedLink(const TcAttachRequest& r) {
  if (::access(r.pin_path.c_str(), F_OK) != 0) return {};
  UniqueFd fd(bpf_obj_get(r.pin_path.c_str()));
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (fd.valid() && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 && info.type == kBpfLinkTypeTcx) {
    // tcx's {ifindex, attach_type} sits where netns's {netns_ino, attach_type}
    // does in older headers' union.
    if (info.netns.netns_ino == r.ifindex && info.netns.attach_type == static_cast<__u32>(tcxAttachType(r.hook)))
      return fd;
  }
  if (fd.valid() && bpf_link_detach(fd.get()) != 0 && errno != ENOLINK && errno != EINVAL)
    spdlog::warn("{}", errnoMessage("detach stale link " + r.pin_path, errno));
  ::unlink(r.pin_path.c_str());
  return {};
}

Result<TcAttachment> attachTcx(const TcAttachRequest& r) {
  if (UniqueFd old = adoptablePinnedLink(r); old.valid()) {
    if (bpf_link_update(old.get(), r.prog_fd, nullptr) == 0) return TcAttachment{TcMode::kTcx, true};
    spdlog::warn("{}: re-attaching", errnoMessage("update pinned link " + r.pin_path, errno));
    bpf_link_detach(old.get());
    ::unlink(r.pin_path.c_str());
  }
  UniqueFd link(bpf_link_create(r.prog_fd, static_cast<int>(r.ifindex), static_cast<bpf_attach_type>(tcxAttachType(r.hook)),
                                nullptr));
  if (!link.valid()) return fail(errnoMessage("attach tcx " + where(r), errno));
  if (bpf_obj_pin(link.get(), r.pin_path.c_str()) != 0) {
    const int err = errno;
    bpf_link_detach(link.get());
    return fail(errnoMessage("pin link " + r.pin_path, err));
  }
  return TcAttachment{TcMode::kTcx, false};
}

bpf_tc_hook clsactHook(const TcAttachRequest& r) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(r.ifindex);
  hook.attach_point = r.hook == TcHook::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return hook;
}

Result<TcAttachment> attachClsact(const TcAttachRequest& r) {
  bpf_tc_hook hook = clsactHook(r);
  if (int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST)
    return fail(errnoMessage("create clsact qdisc for " + where(r), err));
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.prog_fd = r.prog_fd;
  opts.handle = kClsactHandle;
  opts.priority = kClsactPriority;
  opts.flags = BPF_TC_F_REPLACE;
  if (int err = bpf_tc_attach(&hook, &opts); err != 0) return fail(errnoMessage("attach clsact " + where(r), err));
  return TcAttachment{TcMode::kClsact, false};
}

}  // namespace

const char* tcHookName(TcHook hook) { return hook == TcHook::kIngress ? "ingress" : "egress"; }

const char* tcModeName(TcMode mode) {
  switch (mode) {
    case TcMode::kTcx:
      return "tcx";
    case TcMode::kClsact:
      return "clsact";
    default:
      return "auto";
  }
}

Result<TcAttachment> attachOrAdoptTc(const TcAttachRequest& request) {
  if (request.mode == TcMode::kClsact) return attachClsact(request);
  auto tcx = attachTcx(request);
  if (tcx || request.mode == TcMode::kTcx) return tcx;
  // Kernels before tcx reject the attach type: fall back to clsact.
  spdlog::info("{}; using clsact", tcx.error());
  return attachClsact(request);
}

Result<bool> updatePinnedTcxLink(const std::string& pin_path, int ingress_prog_fd, int egress_prog_fd) {
  UniqueFd fd(bpf_obj_get(pin_path.c_str()));
  if (!fd.valid()) return fail(errnoMessage("open " + pin_path, errno));
  bpf_link_info info{};
  __u32 len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return fail(errnoMessage("inspect " + pin_path, errno));
  if (info.type != kBpfLinkTypeTcx) return false;
  // As in adoptablePinnedLink: tcx's {ifindex, attach_type} in netns's place.
  const bool ingress = info.netns.attach_type == static_cast<__u32>(kBpfTcxIngress);
  if (bpf_link_update(fd.get(), ingress ? ingress_prog_fd : egress_prog_fd, nullptr) != 0) {
    // Its interface is gone: nothing runs there any more.
    if (errno == ENOLINK) return true;
    return fail(errnoMessage("update tcx link " + pin_path, errno));
  }
  return true;
}

Status detachTc(const TcAttachRequest& request, TcMode used) {
  if (used == TcMode::kClsact) {
    bpf_tc_hook hook = clsactHook(request);
    bpf_tc_opts opts{};
    opts.sz = sizeof(opts);
    opts.handle = kClsactHandle;
    opts.priority = kClsactPriority;
    if (int err = bpf_tc_detach(&hook, &opts); err != 0 && err != -ENOENT && err != -ENODEV && err != -EINVAL)
      return fail(errnoMessage("detach clsact " + where(request), err));
    return Ok{};
  }
  UniqueFd fd(bpf_obj_get(request.pin_path.c_str()));
  if (!fd.valid()) return errno == ENOENT ? Status{Ok{}} : fail(errnoMessage("open " + request.pin_path, errno));
  if (bpf_link_detach(fd.get()) != 0 && errno != ENOLINK && errno != EINVAL)
    return fail(errnoMessage("detach " + where(request), errno));
  if (::unlink(request.pin_path.c_str()) != 0 && errno != ENOENT)
    return fail(errnoMessage("unpin " + request.pin_path, errno));
  return Ok{};
}

}  // namespace egressd::bpf
