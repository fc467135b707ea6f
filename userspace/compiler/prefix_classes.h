#pragma once
// Destination classes. The kernel sees only the longest matching prefix, so
// each distinct prefix becomes its own class whose port entries are the union
// of its own and those of every covering (shorter) prefix. Class ids come from
// a hash of the prefix, so adding a ServiceEntry doesn't renumber the others.
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compiler/class_ids.h"
#include "compiler/desired_state.h"
#include "egressd/scope_bits.h"

namespace egressd::compiler {

// Port 0 in a port key means "any port" (see compile_policy.cc).
inline constexpr uint16_t kAnyPort = 0;

// A set of scope ids, as the kernel's allow_scopes bitmap.
using ScopeSet = std::array<__u64, EGRESSD_SCOPE_WORDS>;  // __u64: the ABI bitmap's word

inline void addScope(ScopeSet& set, uint32_t scope_id) { egressd_scope_bit_set(set.data(), scope_id, 1); }

class PrefixTable {
 public:
  // Opens (prefix, port, protocol) to `scopes`, on behalf of service_id. One
  // call per destination, not per scope: it is the compiler's hot loop.
  void grant(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
             uint32_t service_id);
  // Sends `scopes` to gateway_id (egress gateway redirect); also allows.
  void redirect(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
                uint32_t gateway_id);
  // Opens it to every workload in any mode (EGRESSD_PORT_F_ALWAYS).
  void grantAlways(const egressd_prefix_key& prefix, uint16_t port, uint8_t protocol, uint32_t service_id);

  // Flattens, folds any-port entries into exact ports, assigns class ids and
  // writes desired.prefixes and desired.ports. A prefix keeps its class id in
  // `previous`; a new one takes its hash, moved past every id in use.
  void emit(DesiredState& desired, const ClassIds& previous = {}) const;

  // The stable starting point of a prefix's class id (before collisions).
  static uint32_t classIdHash(const egressd_prefix_key& prefix);

 private:
  struct Entry {
    ScopeSet scopes{};
    ScopeSet redirect_scopes{};
    uint32_t gateway_id = 0;  // lowest non-zero contributor (the compiler reports conflicts)
    uint32_t flags = 0;
    uint32_t service_id = UINT32_MAX;         // lowest contributing service
    uint32_t always_service_id = UINT32_MAX;  // lowest ALWAYS contributor
    void merge(const Entry& other);
    egressd_port_value value() const;
  };
  using PortKey = std::pair<uint16_t, uint8_t>;  // (port, protocol)
  using PortEntries = std::map<PortKey, Entry>;

  PortEntries flattened(const egressd_prefix_key& prefix) const;

  AbiMap<egressd_prefix_key, PortEntries> table_;
  // The prefix lengths in table_: covering prefixes are probed only at these.
  std::set<uint32_t> lengths_;
};

}  // namespace egressd::compiler
