// Order of writes, and why (each kernel lookup reads one map at a time, so
// every intermediate state must only combine old and new policy):
//  1. dest_ports first: a new class's entries exist before any prefix points
//     at it (else its addresses would briefly fall to "no entry" -> mode).
//  2. dest_prefixes: now they may point at the complete classes.
//  3. scopes: a scope is ACTIVE with its mode before any workload uses it
//     (else UNKNOWN_SCOPE).
//  4. workloads: last, when everything they reach is in place.
// dns_names and dns_servers go between ports and scopes, removed before
// prefixes. dns_learned is never touched: the kernel owns it, and entries
// whose host class is gone simply stop matching any dest_ports entry.
// Then removals in reverse: stale workloads first (they stop using a scope),
// then scopes (zeroed slot), prefixes (addresses fall back to the covering
// prefix, which already holds the new entries), and ports last, once nothing
// points at their class any more.
#include "sync/map_sync.h"

#include <cstring>

#include "compiler/address.h"

namespace egressd {
namespace {

std::string describe(const egressd_workload_key& k) { return "workload cgroup " + std::to_string(k.cgroup_id); }

std::string describe(const egressd_prefix_key& k) { return "prefix " + compiler::formatPrefix(k); }

std::string describe(const egressd_port_key& k) {
  return "port class " + std::to_string(k.class_id) + " " + std::to_string(k.port) + "/" +
         std::to_string(k.protocol);
}

std::string describe(const egressd_dns_name_key& k) { return "dns name hash " + std::to_string(k.hash); }

std::string describe(const egressd_dns_server_key& k) {
  egressd_prefix_key p{};
  p.prefixlen = 128;
  std::memcpy(p.addr, k.addr, sizeof(p.addr));
  return "dns server " + compiler::formatPrefix(p) + " port " + std::to_string(k.port);
}

std::string describe(uint32_t id) { return "scope/gateway slot " + std::to_string(id); }

class Syncer {
 public:
  explicit Syncer(SyncReport& report) : report_(report) {}

  // Writes every desired entry that is missing or different in `live`.
  template <typename Map, typename Put>
  void upsert(const Map& desired, const Map& live, Put put) {
    for (const auto& [key, value] : desired) {
      auto it = live.find(key);
      const bool exists = it != live.end();
      if (exists && abiEqual(it->second, value)) continue;
      if (record(put(key, value), "write", describe(key))) ++(exists ? report_.changed : report_.added);
    }
  }

  // Removes every live entry absent from `desired`.
  template <typename Map, typename Remove>
  void removeStale(const Map& desired, const Map& live, Remove remove) {
    for (const auto& [key, value] : live) {
      if (desired.count(key)) continue;
      if (record(remove(key, value), "remove", describe(key))) ++report_.removed;
    }
  }

 private:
  bool record(const Status& status, const char* op, const std::string& what) {
    if (status.ok()) return true;
    report_.errors.push_back(std::string(op) + " " + what + ": " + status.error());
    return false;
  }

  SyncReport& report_;
};

bool slotUsed(const egressd_scope_value& v) { return !abiEqual(v, egressd_scope_value{}); }

}  // namespace

SyncReport syncMaps(MapBackend& maps, const DesiredState& desired) {
  SyncReport report;
  auto live_result = maps.readLive();
  if (!live_result.ok()) {
    report.errors.push_back("reading live maps: " + live_result.error());
    return report;
  }
  DesiredState& live = live_result.value();
  // The scopes array always has every slot: only used ones count as live.
  std::erase_if(live.scopes, [](const auto& kv) { return !slotUsed(kv.second); });

  Syncer sync(report);
  // Gateways before ports: a redirect bit never points at an empty slot.
  sync.upsert(desired.gateways, live.gateways, [&](uint32_t id, const auto& v) { return maps.putGateway(id, v); });
  sync.upsert(desired.ports, live.ports, [&](const auto& k, const auto& v) { return maps.putPort(k, v); });
  sync.upsert(desired.prefixes, live.prefixes, [&](const auto& k, const auto& v) { return maps.putPrefix(k, v); });
  // Names after ports: a host's class entries exist before it can be learned.
  sync.upsert(desired.dns_names, live.dns_names, [&](const auto& k, const auto& v) { return maps.putDnsName(k, v); });
  sync.upsert(desired.dns_servers, live.dns_servers,
              [&](const auto& k, const auto& v) { return maps.putDnsServer(k, v); });
  sync.upsert(desired.scopes, live.scopes, [&](uint32_t id, const auto& v) { return maps.putScope(id, v); });
  sync.upsert(desired.workloads, live.workloads,
              [&](const auto& k, const auto& v) { return maps.putWorkload(k, v); });

  sync.removeStale(desired.workloads, live.workloads,
                   [&](const auto& k, const auto&) { return maps.deleteWorkload(k); });
  sync.removeStale(desired.scopes, live.scopes,
                   [&](uint32_t id, const auto&) { return maps.putScope(id, egressd_scope_value{}); });
  sync.removeStale(desired.dns_servers, live.dns_servers,
                   [&](const auto& k, const auto&) { return maps.deleteDnsServer(k); });
  sync.removeStale(desired.dns_names, live.dns_names,
                   [&](const auto& k, const auto&) { return maps.deleteDnsName(k); });
  sync.removeStale(desired.prefixes, live.prefixes,
                   [&](const auto& k, const auto&) { return maps.deletePrefix(k); });
  sync.removeStale(desired.ports, live.ports, [&](const auto& k, const auto&) { return maps.deletePort(k); });
  sync.removeStale(desired.gateways, live.gateways,
                   [&](uint32_t id, const auto&) { return maps.putGateway(id, egressd_gateway_value{}); });
  return report;
}

}  // namespace egressd
