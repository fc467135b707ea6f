#pragma once
// MapBackend over the real (pinned) BPF maps. Borrows the map fds from the
// Datapath that owns them.
#include "sync/map_backend.h"

namespace egressd::bpf {

struct PolicyMapFds {
  int workloads = -1;
  int scopes = -1;
  int prefixes = -1;
  int ports = -1;
  int dns_names = -1;
  int dns_servers = -1;
  int gateways = -1;
  int dns_learned = -1;
  int abi_info = -1;  // its sticky flags (abi.h); -1: none are set
};

// Adds `flags` to abi_info's sticky flags (abi.h), keeping the version.
Status addAbiFlags(int abi_info_fd, uint32_t flags);

class PinnedMapBackend final : public MapBackend {
 public:
  explicit PinnedMapBackend(PolicyMapFds fds) : fds_(fds) {}

  // Every entry of every policy map; scopes: only ACTIVE slots.
  Result<DesiredState> readLive() override;

  Status putWorkload(const egressd_workload_key& key, const egressd_workload_value& value) override;
  Status deleteWorkload(const egressd_workload_key& key) override;
  Status putScope(uint32_t scope_id, const egressd_scope_value& value) override;
  Status putPrefix(const egressd_prefix_key& key, const egressd_prefix_value& value) override;
  Status deletePrefix(const egressd_prefix_key& key) override;
  Status putPort(const egressd_port_key& key, const egressd_port_value& value) override;
  Status deletePort(const egressd_port_key& key) override;
  Status putDnsName(const egressd_dns_name_key& key, const egressd_dns_name_value& value) override;
  Status deleteDnsName(const egressd_dns_name_key& key) override;
  Status putDnsServer(const egressd_dns_server_key& key, const egressd_dns_server_value& value) override;
  Status deleteDnsServer(const egressd_dns_server_key& key) override;
  Status putGateway(uint32_t gateway_id, const egressd_gateway_value& value) override;
  Result<LearnedEntries> readLearned() override;
  Result<std::optional<egressd_dns_learned_value>> lookupLearned(const egressd_dns_learned_key& key) override;
  Status putLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override;
  Status deleteLearned(const egressd_dns_learned_key& key) override;

 private:
  PolicyMapFds fds_;
  bool redirect_lru_flagged_ = false;  // EGRESSD_ABI_F_REDIRECT_LRU_USED written
};

}  // namespace egressd::bpf
