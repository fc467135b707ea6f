#pragma once
// Keeps the TC backstop (bpf/lib/tc_backstop.h) on every workload's
// host-side interface: attaches when a workload's processes and interface
// appear, moves with a new network namespace, detaches when it goes. A
// workload without its own interface (host network) is reported, not an
// error: the socket hooks still enforce it.
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bpf/datapath.h"
#include "bpf/tc_link.h"
#include "bpf/unique_fd.h"
#include "netns/host_side.h"

namespace egressd::agent {

struct TcWorkload {
  std::string name;  // "ns/name"
  uint64_t cgroup_id = 0;
  std::string cgroup_path;
};

struct TcInterfaceStatus {
  std::string workload;
  std::string interface;  // host-side name, empty while pending
  uint32_t ifindex = 0;
  std::string mode;       // "tcx" or "clsact"; empty while pending
  std::string pending;    // why it is not attached (yet)
  bool none = false;      // it can have none (host network, shared namespace)
  uint64_t cgroup_id = 0; // attached: the cgroup the backstop judges for
};

class TcAttachments {
 public:
  TcAttachments(bpf::Datapath& datapath, std::string bpffs_dir, bpf::TcMode mode);
  // Called on every policy apply and periodically: cheap when nothing moved.
  // Also re-reads the addresses of a workload whose addresses changed.
  void reconcile(const std::vector<TcWorkload>& workloads);
  std::vector<TcInterfaceStatus> status() const;
  // Readable when an attached workload's addresses changed: reconcile then.
  std::vector<int> addressWatchFds() const;

 private:
  struct Attached {
    uint64_t cgroup_id = 0;
    uint64_t workload_netns_inode = 0;
    bpf::UniqueFd host_netns_fd;
    uint64_t host_netns_inode = 0;
    bool in_agent_netns = false;
    uint32_t ifindex = 0;
    std::string interface;
    bpf::TcMode mode = bpf::TcMode::kTcx;
    uint32_t bridge_ifindex = 0;
    // The workload's own addresses, as tc_ifaces holds them, and where they
    // are read again when the socket that watches them hears a change. Both
    // fds hold the workload's namespace: let go while it has no process.
    bpf::UniqueFd workload_netns_fd;
    uint32_t workload_ifindex = 0;
    std::vector<netns::Address> addresses;
    bpf::UniqueFd address_watch;
    bool addresses_stale = false;  // a re-read failed: try again next time
  };

  Status attach(const TcWorkload& workload, pid_t pid, Attached& out);
  Status checkIfindexFree(const std::string& name, const netns::HostSideInterface& host);
  void detach(const std::string& name, Attached& attached);
  void refreshAddresses(const std::string& name, Attached& attached);
  void rewatchAddresses(const std::string& name, Attached& attached, pid_t pid);
  std::string pinPath(uint64_t cgroup_id, bpf::TcHook hook) const;
  void removeLeftovers();

  bpf::Datapath& datapath_;
  std::string bpffs_dir_;
  bpf::TcMode mode_;
  bool first_reconcile_ = true;
  mutable std::mutex mutex_;  // guards attached_ and pending_ for status()
  std::map<std::string, Attached> attached_;
  std::map<std::string, std::string> pending_;
  std::set<std::string> none_;  // pending ones that can have no backstop
};

}  // namespace egressd::agent
