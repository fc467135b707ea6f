#pragma once
// A MapBackend that remembers what it wrote. The agent is the only writer of
// the policy maps, so after one real read the live state is known without
// walking tens of thousands of kernel entries on every reload; any failed
// write forgets the mirror and the next read goes to the kernel again.
#include <optional>

#include "sync/map_backend.h"

namespace egressd {

class MirroredMapBackend : public MapBackend {
 public:
  explicit MirroredMapBackend(MapBackend& kernel) : kernel_(kernel) {}

  Result<DesiredState> readLive() override;
  // The mirrored state itself, without the copy readLive() makes: for readers
  // that only look (the agent recovers scope ids from it on every reload).
  // Valid until the next write.
  Result<const DesiredState*> live();
  const DesiredState* liveView() override;
  // Forces the next readLive() to read the kernel maps.
  void forget() { mirror_.reset(); }

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
  // Not mirrored: the kernel writes dns_learned too.
  Result<LearnedEntries> readLearned() override { return kernel_.readLearned(); }
  Result<std::optional<egressd_dns_learned_value>> lookupLearned(const egressd_dns_learned_key& key) override {
    return kernel_.lookupLearned(key);
  }
  Status putLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override {
    return kernel_.putLearned(key, value);
  }
  Status deleteLearned(const egressd_dns_learned_key& key) override { return kernel_.deleteLearned(key); }

 private:
  // Applies a write to the kernel, then to the mirror if it succeeded.
  template <typename Write, typename Mirror>
  Status apply(Write&& write, Mirror&& mirror);

  MapBackend& kernel_;
  std::optional<DesiredState> mirror_;
};

}  // namespace egressd
