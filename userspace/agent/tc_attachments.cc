#include "agent/tc_attachments.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "bpf/bpffs.h"
#include "netns/host_side.h"
#include "netns/in_netns.h"

namespace egressd::agent {
namespace {

namespace fs = std::filesystem;
constexpr bpf::TcHook kHooks[] = {bpf::TcHook::kIngress, bpf::TcHook::kEgress};

// A process of the workload: its own cgroup first, then its children
// (containers below a pod). 0 when none runs yet.
pid_t firstProcessIn(const std::string& cgroup_path) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(cgroup_path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() != "cgroup.procs") continue;
    std::ifstream procs(it->path());
    pid_t pid = 0;
    if (procs >> pid && pid > 0) return pid;
  }
  std::ifstream procs(cgroup_path + "/cgroup.procs");
  pid_t pid = 0;
  return procs >> pid ? pid : 0;
}

// Runs fn in the interface's namespace: directly when it is the agent's own.
Status inHostNetns(int netns_fd, bool in_agent_netns, const std::function<Status()>& fn) {
  return in_agent_netns ? fn() : netns::runInNetns(netns_fd, fn);
}

std::string describeAddresses(const std::vector<netns::Address>& addresses) {
  std::string out;
  for (const auto& a : addresses) {
    char text[INET6_ADDRSTRLEN] = {};
    const bool v4 = std::all_of(a.begin(), a.begin() + 10, [](uint8_t b) { return b == 0; }) && a[10] == 0xff &&
                    a[11] == 0xff;
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a.data() + 12 : a.data(), text, sizeof(text));
    out += (out.empty() ? "" : " ") + std::string(text);
  }
  return out.empty() ? "none" : out;
}

// What tc_ifaces holds for a workload's interface. The backstop keeps a few
// addresses per interface; a workload with more has the rest refused as
// spoofed, and the log says so.
bpf::Datapath::TcIface tcIface(const std::string& name, uint64_t cgroup_id, std::vector<netns::Address> addresses,
                               uint32_t bridge_ifindex) {
  if (addresses.size() > EGRESSD_TC_IFACE_ADDRS) {
    spdlog::warn("workload {}: {} addresses, the TC backstop keeps the first {} ({}); packets from the others are "
                 "dropped as spoofed",
                 name, addresses.size(), EGRESSD_TC_IFACE_ADDRS, describeAddresses(addresses));
    addresses.resize(EGRESSD_TC_IFACE_ADDRS);
  }
  return {cgroup_id, std::move(addresses), bridge_ifindex};
}

}  // namespace

TcAttachments::TcAttachments(bpf::Datapath& datapath, std::string bpffs_dir, bpf::TcMode mode)
    : datapath_(datapath), bpffs_dir_(std::move(bpffs_dir)), mode_(mode) {}

std::string TcAttachments::pinPath(uint64_t cgroup_id, bpf::TcHook hook) const {
  return bpf::linksDir(bpffs_dir_) + "/tc-" + std::to_string(cgroup_id) + "-" + bpf::tcHookName(hook);
}

Status TcAttachments::attach(const TcWorkload& workload, pid_t pid, Attached& out) {
  auto host = netns::findHostSideInterface(pid);
  if (!host) return fail(host.error());
  if (auto free = checkIfindexFree(workload.name, *host); !free) return free;
  auto own = netns::readWorkloadAddresses(host->workload_netns_fd.get(), host->workload_ifindex, true);
  if (!own) return fail("its addresses: " + own.error());
  // The map entry first: the programs pass interfaces they don't know.
  if (auto st = datapath_.putTcIface(host->ifindex,
                                     tcIface(workload.name, workload.cgroup_id, own->addresses, host->bridge_ifindex));
      !st)
    return st;
  bpf::TcMode used = mode_;
  bool adopted = false;
  auto st = inHostNetns(host->netns_fd.get(), host->in_agent_netns, [&]() -> Status {
    for (bpf::TcHook hook : kHooks) {
      bpf::TcAttachRequest request{datapath_.tcProgramFd(hook), host->ifindex, hook, used,
                                   pinPath(workload.cgroup_id, hook)};
      auto attached = bpf::attachOrAdoptTc(request);
      if (!attached) return fail(attached.error());
      used = attached->mode;  // the egress hook goes the way ingress went
      adopted = attached->adopted;
    }
    return Ok{};
  });
  if (!st) {
    if (auto removed = datapath_.deleteTcIface(host->ifindex, workload.cgroup_id); !removed)
      spdlog::warn("{}", removed.error());
    return st;
  }
  // Its raw sockets may be created from now on (bpf/lib/sock_create.h);
  // before anyone can read it as attached.
  if (auto st = datapath_.putCgroupMap(bpf::Datapath::CgroupMap::kBackstops, workload.cgroup_id,
                                       EGRESSD_BACKSTOP_ATTACHED);
      !st)
    spdlog::warn("{}", st.error());
  spdlog::info("workload {}: TC backstop {} on {} (ifindex {}, {}{}); its addresses: {}", workload.name,
               adopted ? "adopted" : "attached", host->name, host->ifindex, bpf::tcModeName(used),
               host->in_agent_netns ? "" : ", in another network namespace", describeAddresses(own->addresses));
  out.cgroup_id = workload.cgroup_id;
  out.workload_netns_inode = host->workload_netns_inode;
  out.host_netns_fd = std::move(host->netns_fd);
  out.host_netns_inode = host->netns_inode;
  out.in_agent_netns = host->in_agent_netns;
  out.ifindex = host->ifindex;
  out.interface = host->name;
  out.mode = used;
  out.bridge_ifindex = host->bridge_ifindex;
  out.workload_netns_fd = std::move(host->workload_netns_fd);
  out.workload_ifindex = host->workload_ifindex;
  out.addresses = std::move(own->addresses);
  out.address_watch = std::move(own->watch);
  return Ok{};
}

// An address added to (or removed from) the workload's interface: until this
// runs, packets from a new address are dropped as spoofed (fail closed). The
// watch socket makes it run at once (the agent polls it), not on a timer.
void TcAttachments::refreshAddresses(const std::string& name, Attached& attached) {
  if (!attached.workload_netns_fd.valid()) return;  // no process: nothing to send from
  const bool changed = attached.address_watch.valid() && netns::drainAddressEvents(attached.address_watch.get());
  if (!changed && !attached.addresses_stale) return;
  auto own = netns::readWorkloadAddresses(attached.workload_netns_fd.get(), attached.workload_ifindex, false);
  attached.addresses_stale = !own;
  if (!own) {
    spdlog::warn("workload {}: reading its addresses again: {}", name, own.error());
    return;
  }
  if (own->addresses == attached.addresses) return;
  if (auto st = datapath_.putTcIface(attached.ifindex, tcIface(name, attached.cgroup_id, own->addresses,
                                                               attached.bridge_ifindex));
      !st) {
    attached.addresses_stale = true;
    spdlog::warn("workload {}: {}", name, st.error());
    return;
  }
  spdlog::info("workload {}: its addresses are now {}", name, describeAddresses(own->addresses));
  attached.addresses = std::move(own->addresses);
}

// A process back in a workload whose namespace was let go: the same
// namespace (or the attachment would have moved), watched and read again.
void TcAttachments::rewatchAddresses(const std::string& name, Attached& attached, pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  bpf::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto own = fd.valid() ? netns::readWorkloadAddresses(fd.get(), attached.workload_ifindex, true)
                        : Result<netns::WorkloadAddresses>(fail("open " + path + ": " + std::strerror(errno)));
  if (!own) {
    spdlog::warn("workload {}: watching its addresses again: {}", name, own.error());
    return;
  }
  spdlog::debug("workload {}: a process is back (pid {}): its addresses are watched again", name, pid);
  attached.workload_netns_fd = std::move(fd);
  attached.address_watch = std::move(own->watch);
  attached.addresses_stale = own->addresses != attached.addresses;  // written by refreshAddresses()
}

std::vector<int> TcAttachments::addressWatchFds() const {
  std::lock_guard lock(mutex_);
  std::vector<int> fds;
  for (const auto& [name, a] : attached_)
    if (a.address_watch.valid()) fds.push_back(a.address_watch.get());
  return fds;
}

// tc_ifaces is keyed by ifindex alone, which is unique within one namespace
// (a node's host-side veths all live in its root namespace). Another
// workload's entry for the same index in the same namespace is stale: its
// interface is gone and the index was reused. In another namespace it would
// be a real clash: refuse rather than let one policy judge the other's packets.
Status TcAttachments::checkIfindexFree(const std::string& name, const netns::HostSideInterface& host) {
  std::lock_guard lock(mutex_);
  for (const auto& [other, a] : attached_) {
    if (other == name || a.ifindex != host.ifindex || a.host_netns_inode == host.netns_inode) continue;
    return fail("its host-side interface " + host.name + " has ifindex " + std::to_string(host.ifindex) +
                ", as workload " + other + "'s (" + a.interface +
                ") in another network namespace; TC interfaces are keyed by ifindex alone");
  }
  return Ok{};
}

void TcAttachments::detach(const std::string& name, Attached& attached) {
  auto st = inHostNetns(attached.host_netns_fd.get(), attached.in_agent_netns, [&]() -> Status {
    for (bpf::TcHook hook : kHooks) {
      bpf::TcAttachRequest request{datapath_.tcProgramFd(hook), attached.ifindex, hook, attached.mode,
                                   pinPath(attached.cgroup_id, hook)};
      if (auto detached = bpf::detachTc(request, attached.mode); !detached) return detached;
    }
    return Ok{};
  });
  if (!st) spdlog::warn("workload {}: {}", name, st.error());
  if (auto removed = datapath_.deleteTcIface(attached.ifindex, attached.cgroup_id); !removed)
    spdlog::warn("{}", removed.error());
  spdlog::info("workload {}: TC backstop detached from {}", name, attached.interface);
}

void TcAttachments::reconcile(const std::vector<TcWorkload>& workloads) {
  // Where each workload's processes are: a process and its network namespace.
  struct Seen {
    pid_t pid = 0;
    uint64_t netns_inode = 0;
  };
  std::map<std::string, Seen> seen;
  std::map<uint64_t, std::vector<std::string>> by_netns;
  for (const auto& workload : workloads) {
    Seen& s = seen[workload.name];
    s.pid = firstProcessIn(workload.cgroup_path);
    if (!s.pid) continue;
    if (auto inode = netns::netnsInode("/proc/" + std::to_string(s.pid) + "/ns/net"); inode) {
      s.netns_inode = *inode;
      by_netns[*inode].push_back(workload.name);
    }
  }
  std::set<std::string> wanted;
  const auto agent_netns = netns::netnsInode("/proc/self/ns/net");
  for (const auto& workload : workloads) {
    wanted.insert(workload.name);
    const Seen& s = seen[workload.name];
    std::string why;
    bool none = false;  // no backstop possible: its raw sockets stay untouched
    if (!s.pid) {
      why = "no process in its cgroup yet";
      // Its namespace is not held open for it (the runtime may be tearing
      // it down): watched again when a process is back.
      std::lock_guard lock(mutex_);
      if (auto it = attached_.find(workload.name); it != attached_.end() && it->second.workload_netns_fd.valid()) {
        it->second.address_watch.reset();
        it->second.workload_netns_fd.reset();
        spdlog::debug("workload {}: no process left: its network namespace is let go", workload.name);
      }
    } else if (agent_netns && s.netns_inode == *agent_netns) {
      // Not `none`: a runtime may move the process into the cgroup before
      // into the pod's namespace. The kernel exempts host-network sockets
      // itself (bpf/lib/sock_create.h).
      why = "host network: no interface of its own";
    } else if (const auto& sharing = by_netns[s.netns_inode]; sharing.size() > 1) {
      // One interface, several policies: the backstop could not tell whose
      // packet it sees. A pod's namespace is its own; this is not one.
      why = "shares its network namespace with workload " + (sharing[0] == workload.name ? sharing[1] : sharing[0]);
      none = true;
      std::lock_guard lock(mutex_);
      if (auto it = attached_.find(workload.name); it != attached_.end()) {
        detach(workload.name, it->second);
        attached_.erase(it);
      }
    } else {
      std::lock_guard lock(mutex_);
      auto it = attached_.find(workload.name);
      if (it != attached_.end() && it->second.cgroup_id == workload.cgroup_id &&
          it->second.workload_netns_inode == s.netns_inode) {
        if (!it->second.workload_netns_fd.valid()) rewatchAddresses(workload.name, it->second, s.pid);
        continue;  // nothing moved
      }
    }
    if (why.empty()) {
      Attached fresh;
      if (auto st = attach(workload, s.pid, fresh); st) {
        std::lock_guard lock(mutex_);
        if (auto it = attached_.find(workload.name); it != attached_.end()) {
          // Moved: a new namespace or interface. Retire the old one unless
          // it is the very same interface (then the pins were just adopted).
          if (it->second.ifindex != fresh.ifindex || it->second.cgroup_id != fresh.cgroup_id)
            detach(workload.name, it->second);
        }
        attached_[workload.name] = std::move(fresh);
        pending_.erase(workload.name);
        none_.erase(workload.name);
        continue;
      } else {
        why = st.error();
      }
    }
    std::lock_guard lock(mutex_);
    if (attached_.count(workload.name)) continue;  // keep the last good attachment
    if (none)
      none_.insert(workload.name);
    else
      none_.erase(workload.name);
    auto& last = pending_[workload.name];
    if (last != why) spdlog::info("workload {}: no TC backstop yet: {}", workload.name, why);
    last = why;
  }
  std::lock_guard lock(mutex_);
  for (auto it = attached_.begin(); it != attached_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    detach(it->first, it->second);
    it = attached_.erase(it);
  }
  // Every watch drained here, whatever the workload's state, so none stays
  // readable for the agent's poll.
  for (auto& [name, attached] : attached_) refreshAddresses(name, attached);
  for (auto it = pending_.begin(); it != pending_.end();) it = wanted.count(it->first) ? std::next(it) : pending_.erase(it);
  for (auto it = none_.begin(); it != none_.end();) it = wanted.count(*it) ? std::next(it) : none_.erase(it);
  if (first_reconcile_) {
    first_reconcile_ = false;
    removeLeftovers();
  }
}

// After a restart: pins and map entries of workloads that are gone. (clsact
// filters are not pinned; with their tc_ifaces entry gone they pass all.)
void TcAttachments::removeLeftovers() {
  std::set<uint32_t> ifindexes;
  std::set<std::string> pins;
  for (const auto& [name, attached] : attached_) {
    ifindexes.insert(attached.ifindex);
    for (bpf::TcHook hook : kHooks) pins.insert(pinPath(attached.cgroup_id, hook));
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(bpf::linksDir(bpffs_dir_), ec)) {
    const std::string path = entry.path().string();
    if (entry.path().filename().string().rfind("tc-", 0) != 0 || pins.count(path)) continue;
    bpf::TcAttachRequest request;
    request.pin_path = path;
    if (auto st = bpf::detachTc(request, bpf::TcMode::kTcx); !st) spdlog::warn("{}", st.error());
    spdlog::info("removed TC link {} of a workload that is gone", path);
  }
  if (auto entries = datapath_.readTcIfaces(); entries) {
    for (const auto& [ifindex, cgroup_id] : *entries)
      if (!ifindexes.count(ifindex))
        if (auto removed = datapath_.deleteTcIface(ifindex, cgroup_id); !removed) spdlog::warn("{}", removed.error());
  }
}

std::vector<TcInterfaceStatus> TcAttachments::status() const {
  std::lock_guard lock(mutex_);
  std::vector<TcInterfaceStatus> out;
  for (const auto& [name, a] : attached_)
    out.push_back({name, a.interface, a.ifindex, bpf::tcModeName(a.mode), "", false, a.cgroup_id});
  for (const auto& [name, why] : pending_) out.push_back({name, "", 0, "", why, none_.count(name) > 0});
  return out;
}

}  // namespace egressd::agent
