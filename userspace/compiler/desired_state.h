#pragma once
// What the kernel maps should contain: the compiler's output, map sync's input.
// Keys and values are the ABI structs themselves, so nothing is translated twice.
#include <cstdint>
#include <cstring>
#include <map>

#include "egressd/abi.h"

namespace egressd {

// Orders ABI keys bytewise; valid because ABI keys have no padding bytes
// (checked in tests/unit/abi_layout_test.cc).
template <typename K>
struct AbiKeyLess {
  bool operator()(const K& a, const K& b) const { return std::memcmp(&a, &b, sizeof(K)) < 0; }
};

template <typename V>
bool abiEqual(const V& a, const V& b) {
  return std::memcmp(&a, &b, sizeof(V)) == 0;
}

template <typename K, typename V>
using AbiMap = std::map<K, V, AbiKeyLess<K>>;

struct DesiredState {
  AbiMap<egressd_workload_key, egressd_workload_value> workloads;
  // Only active scopes; map sync clears the slots of scopes that are gone.
  std::map<uint32_t, egressd_scope_value> scopes;
  AbiMap<egressd_prefix_key, egressd_prefix_value> prefixes;
  AbiMap<egressd_port_key, egressd_port_value> ports;
  // DNS learning: ServiceEntry hosts by suffix hash, and trusted resolvers.
  AbiMap<egressd_dns_name_key, egressd_dns_name_value> dns_names;
  AbiMap<egressd_dns_server_key, egressd_dns_server_value> dns_servers;
  // Egress gateway targets by id (only active slots; 0 is never used).
  std::map<uint32_t, egressd_gateway_value> gateways;
};

}  // namespace egressd
