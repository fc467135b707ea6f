#pragma once
// The kernel maps as map sync sees them. The real backend (userspace/bpf/)
// talks to pinned BPF maps; tests use an in-memory fake.
#include <optional>
#include <utility>
#include <vector>

#include "common/result.h"
#include "compiler/desired_state.h"

namespace egressd {

using LearnedEntries = std::vector<std::pair<egressd_dns_learned_key, egressd_dns_learned_value>>;

class MapBackend {
 public:
  virtual ~MapBackend() = default;

  // Reads the live contents of every policy map (not dns_learned: the
  // kernel owns it).
  virtual Result<DesiredState> readLive() = 0;
  // The same without a copy, active scope slots only, where the backend
  // keeps it (valid until the next write); nullptr: call readLive().
  virtual const DesiredState* liveView() { return nullptr; }

  virtual Status putWorkload(const egressd_workload_key& key, const egressd_workload_value& value) = 0;
  virtual Status deleteWorkload(const egressd_workload_key& key) = 0;
  // Scopes live in an array: "delete" writes an inactive (zero) slot.
  virtual Status putScope(uint32_t scope_id, const egressd_scope_value& value) = 0;
  virtual Status putPrefix(const egressd_prefix_key& key, const egressd_prefix_value& value) = 0;
  virtual Status deletePrefix(const egressd_prefix_key& key) = 0;
  virtual Status putPort(const egressd_port_key& key, const egressd_port_value& value) = 0;
  virtual Status deletePort(const egressd_port_key& key) = 0;
  virtual Status putDnsName(const egressd_dns_name_key& key, const egressd_dns_name_value& value) = 0;
  virtual Status deleteDnsName(const egressd_dns_name_key& key) = 0;
  virtual Status putDnsServer(const egressd_dns_server_key& key, const egressd_dns_server_value& value) = 0;
  virtual Status deleteDnsServer(const egressd_dns_server_key& key) = 0;
  // Gateways live in an array: "delete" writes an inactive (zero) slot.
  virtual Status putGateway(uint32_t gateway_id, const egressd_gateway_value& value) = 0;

  // dns_learned is the kernel's. Map sync only carries what a workload's
  // scope learned to the scope the workload moves to (for the names that
  // scope may learn) and removes the entries of scopes that are gone.
  virtual Result<LearnedEntries> readLearned() = 0;
  virtual Result<std::optional<egressd_dns_learned_value>> lookupLearned(const egressd_dns_learned_key& key) = 0;
  virtual Status putLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) = 0;
  virtual Status deleteLearned(const egressd_dns_learned_key& key) = 0;
};

}  // namespace egressd
