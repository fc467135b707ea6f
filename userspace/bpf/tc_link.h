#pragma once
// A TC program on one interface, one direction: a tcx link where the kernel
// has tcx (6.6+), pinned so it outlives the agent and is adopted on restart;
// a clsact filter otherwise. Both keep other programs on the interface (a
// CNI's) running: ours hands packets on instead of accepting them.
// Every call acts on the calling thread's network namespace.
#include <cstdint>
#include <string>

#include "bpf/unique_fd.h"
#include "common/result.h"

namespace egressd::bpf {

enum class TcHook { kIngress, kEgress };
enum class TcMode { kAuto, kTcx, kClsact };

const char* tcHookName(TcHook hook);
const char* tcModeName(TcMode mode);

struct TcAttachRequest {
  int prog_fd = -1;
  uint32_t ifindex = 0;
  TcHook hook = TcHook::kIngress;
  TcMode mode = TcMode::kAuto;  // kAuto: tcx, else clsact
  std::string pin_path;         // where the tcx link is pinned
};

struct TcAttachment {
  TcMode mode = TcMode::kTcx;  // what was used: kTcx or kClsact
  bool adopted = false;        // a pinned link on this interface was updated in place
};

Result<TcAttachment> attachOrAdoptTc(const TcAttachRequest& request);

// If the link pinned at pin_path is one of our tcx links, points it at the
// program for its direction in one step (bpf_link_update), wherever its
// interface lives (no namespace needed). False when it is no tcx link.
Result<bool> updatePinnedTcxLink(const std::string& pin_path, int ingress_prog_fd, int egress_prog_fd);

// Removes what attachOrAdoptTc put there (a gone interface is not an error).
Status detachTc(const TcAttachRequest& request, TcMode used);

}  // namespace egressd::bpf
