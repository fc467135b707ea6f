#pragma once
// A cgroup hook link that survives the agent: pinned, and on restart adopted
// with its program swapped atomically, so enforcement has no gap.
#include <bpf/libbpf.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace egressd::bpf {

// Closing a link object only drops our fd; a pinned link stays attached.
struct LinkDeleter {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkDeleter>;

struct CgroupLinkRequest {
  bpf_program* program = nullptr;
  std::string hook;         // "connect4": names the pin and error messages
  std::string cgroup_path;  // where to attach
  uint64_t cgroup_id = 0;   // its id, to recognise a pinned link there
  std::string pin_path;
};

struct CgroupLink {
  LinkPtr link;
  bool adopted = false;  // a pinned link was updated in place
};

// Adopts the link pinned at pin_path if it is attached to the same cgroup
// and hook (bpf_link_update: old and new program swap atomically); otherwise
// attaches anew, pins, and only then detaches the stale pinned link.
Result<CgroupLink> attachOrAdoptCgroupLink(const CgroupLinkRequest& request);

}  // namespace egressd::bpf
