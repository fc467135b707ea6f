#pragma once
// In-memory MapBackend for map sync tests: records every operation in order,
// enforces map capacities like the kernel (E2BIG when full) and fails any
// operation a test picks.
#include <functional>
#include <string>
#include <vector>

#include "sync/map_backend.h"

namespace egressd::testing {

class FakeMapBackend : public MapBackend {
 public:
  enum class OpKind { kPutPort, kPutPrefix, kPutScope, kPutWorkload, kDeleteWorkload, kClearScope, kDeletePrefix, kDeletePort,
                      kPutDnsName, kDeleteDnsName, kPutDnsServer, kDeleteDnsServer, kPutGateway, kClearGateway,
                      kPutLearned, kDeleteLearned };

  struct Op {
    OpKind kind;
    uint64_t id;  // cgroup id, scope id, class id, or prefix length
  };

  // The maps' contents; scopes hold every slot, as an array map does.
  DesiredState state;
  // dns_learned, which the kernel writes (tests write it directly).
  AbiMap<egressd_dns_learned_key, egressd_dns_learned_value> learned;
  // Called after every successful write: a test looks at each intermediate state.
  std::function<void(const Op&)> after_write;
  std::vector<Op> ops;  // successful and failed, in call order
  size_t workload_capacity = EGRESSD_MAX_WORKLOADS;
  size_t prefix_capacity = EGRESSD_MAX_DEST_PREFIXES;
  size_t port_capacity = EGRESSD_MAX_DEST_PORTS;
  size_t dns_name_capacity = EGRESSD_MAX_DNS_NAMES;
  size_t dns_server_capacity = EGRESSD_MAX_DNS_SERVERS;
  std::function<bool(const Op&)> fail_if;  // return true to fail that operation
  bool fail_read = false;

  FakeMapBackend() {
    for (uint32_t i = 0; i < EGRESSD_MAX_SCOPES; ++i) state.scopes[i] = egressd_scope_value{};
  }

  Result<DesiredState> readLive() override {
    if (fail_read) return fail("injected read failure");
    return state;
  }

  Status putWorkload(const egressd_workload_key& k, const egressd_workload_value& v) override {
    return put(state.workloads, k, v, workload_capacity, {OpKind::kPutWorkload, k.cgroup_id});
  }
  Status deleteWorkload(const egressd_workload_key& k) override {
    return erase(state.workloads, k, {OpKind::kDeleteWorkload, k.cgroup_id});
  }
  Status putScope(uint32_t id, const egressd_scope_value& v) override {
    const bool clear = abiEqual(v, egressd_scope_value{});
    if (auto s = check({clear ? OpKind::kClearScope : OpKind::kPutScope, id}); !s.ok()) return s;
    if (id >= EGRESSD_MAX_SCOPES) return fail("E2BIG: scope index out of range");
    state.scopes[id] = v;
    wrote({clear ? OpKind::kClearScope : OpKind::kPutScope, id});
    return Ok{};
  }
  Status putPrefix(const egressd_prefix_key& k, const egressd_prefix_value& v) override {
    return put(state.prefixes, k, v, prefix_capacity, {OpKind::kPutPrefix, k.prefixlen});
  }
  Status deletePrefix(const egressd_prefix_key& k) override {
    return erase(state.prefixes, k, {OpKind::kDeletePrefix, k.prefixlen});
  }
  Status putPort(const egressd_port_key& k, const egressd_port_value& v) override {
    return put(state.ports, k, v, port_capacity, {OpKind::kPutPort, k.class_id});
  }
  Status deletePort(const egressd_port_key& k) override {
    return erase(state.ports, k, {OpKind::kDeletePort, k.class_id});
  }

  Status putDnsName(const egressd_dns_name_key& k, const egressd_dns_name_value& v) override {
    return put(state.dns_names, k, v, dns_name_capacity, {OpKind::kPutDnsName, k.hash});
  }
  Status deleteDnsName(const egressd_dns_name_key& k) override {
    return erase(state.dns_names, k, {OpKind::kDeleteDnsName, k.hash});
  }
  Status putDnsServer(const egressd_dns_server_key& k, const egressd_dns_server_value& v) override {
    return put(state.dns_servers, k, v, dns_server_capacity, {OpKind::kPutDnsServer, k.port});
  }
  Status deleteDnsServer(const egressd_dns_server_key& k) override {
    return erase(state.dns_servers, k, {OpKind::kDeleteDnsServer, k.port});
  }

  Status putGateway(uint32_t id, const egressd_gateway_value& v) override {
    const bool clear = !(v.flags & EGRESSD_GATEWAY_F_ACTIVE);
    if (auto s = check({clear ? OpKind::kClearGateway : OpKind::kPutGateway, id}); !s.ok()) return s;
    if (id >= EGRESSD_MAX_GATEWAYS) return fail("E2BIG: gateway index out of range");
    if (clear) {
      state.gateways.erase(id);
    } else {
      state.gateways[id] = v;
    }
    wrote({clear ? OpKind::kClearGateway : OpKind::kPutGateway, id});
    return Ok{};
  }

  Result<LearnedEntries> readLearned() override {
    if (fail_read) return fail("injected read failure");
    return LearnedEntries(learned.begin(), learned.end());
  }
  Result<std::optional<egressd_dns_learned_value>> lookupLearned(const egressd_dns_learned_key& k) override {
    auto it = learned.find(k);
    if (it == learned.end()) return std::optional<egressd_dns_learned_value>{};
    return std::optional<egressd_dns_learned_value>{it->second};
  }
  Status putLearned(const egressd_dns_learned_key& k, const egressd_dns_learned_value& v) override {
    return put(learned, k, v, EGRESSD_MAX_DNS_LEARNED, {OpKind::kPutLearned, k.scope_id});
  }
  Status deleteLearned(const egressd_dns_learned_key& k) override {
    return erase(learned, k, {OpKind::kDeleteLearned, k.scope_id});
  }

  // The live state as the compiler's DesiredState shape (active scopes only).
  DesiredState asDesired() const {
    DesiredState out = state;
    std::erase_if(out.scopes, [](const auto& kv) { return !(kv.second.flags & EGRESSD_SCOPE_F_ACTIVE); });
    return out;
  }

 private:
  void wrote(const Op& op) {
    if (after_write) after_write(op);
  }
  Status check(const Op& op) {
    ops.push_back(op);
    if (fail_if && fail_if(op)) return fail("injected failure");
    return Ok{};
  }

  template <typename Map, typename K, typename V>
  Status put(Map& map, const K& k, const V& v, size_t capacity, const Op& op) {
    if (auto s = check(op); !s.ok()) return s;
    if (!map.count(k) && map.size() >= capacity) return fail("E2BIG: map full");
    map[k] = v;
    wrote(op);
    return Ok{};
  }

  template <typename Map, typename K>
  Status erase(Map& map, const K& k, const Op& op) {
    if (auto s = check(op); !s.ok()) return s;
    if (!map.erase(k)) return fail("ENOENT");
    wrote(op);
    return Ok{};
  }
};

}  // namespace egressd::testing
