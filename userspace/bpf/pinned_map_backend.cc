#include "bpf/pinned_map_backend.h"

#include <vector>

#include "bpf/map_io.h"

namespace egressd::bpf {
namespace {

// Collects key -> value of a hash or LPM map into an AbiMap. An entry that
// vanishes between next_key and lookup (concurrent delete) is skipped.
template <typename K, typename V>
Status readAll(int fd, const char* name, AbiMap<K, V>& out) {
  return mapForEachKey<K>(fd, name, [&](const K& key) -> Status {
    V value{};
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) {
      out.emplace(key, value);
    } else if (errno != ENOENT) {
      return fail(errnoMessage(std::string("lookup in map ") + name, errno));
    }
    return Ok{};
  });
}

}  // namespace

Result<DesiredState> PinnedMapBackend::readLive() {
  DesiredState live;
  if (auto st = readAll(fds_.workloads, "workloads", live.workloads); !st) return fail(st.error());
  for (uint32_t id = 0; id < EGRESSD_MAX_SCOPES; ++id) {
    egressd_scope_value value{};
    if (bpf_map_lookup_elem(fds_.scopes, &id, &value) != 0)
      return fail(errnoMessage("lookup in map scopes", errno));
    if (value.flags & EGRESSD_SCOPE_F_ACTIVE) live.scopes.emplace(id, value);
  }
  if (auto st = readAll(fds_.prefixes, "dest_prefixes", live.prefixes); !st) return fail(st.error());
  if (auto st = readAll(fds_.ports, "dest_ports", live.ports); !st) return fail(st.error());
  if (auto st = readAll(fds_.dns_names, "dns_names", live.dns_names); !st) return fail(st.error());
  if (auto st = readAll(fds_.dns_servers, "dns_servers", live.dns_servers); !st) return fail(st.error());
  for (uint32_t id = 0; id < EGRESSD_MAX_GATEWAYS; ++id) {
    egressd_gateway_value value{};
    if (bpf_map_lookup_elem(fds_.gateways, &id, &value) != 0)
      return fail(errnoMessage("lookup in map gateways", errno));
    if (value.flags & EGRESSD_GATEWAY_F_ACTIVE) live.gateways.emplace(id, value);
  }
  return live;
}

Status PinnedMapBackend::putWorkload(const egressd_workload_key& key, const egressd_workload_value& value) {
  return mapPut(fds_.workloads, "workloads", key, value);
}

Status PinnedMapBackend::deleteWorkload(const egressd_workload_key& key) {
  return mapDelete(fds_.workloads, "workloads", key);
}

Status PinnedMapBackend::putScope(uint32_t scope_id, const egressd_scope_value& value) {
  if (scope_id >= EGRESSD_MAX_SCOPES)
    return fail("update map scopes: scope id " + std::to_string(scope_id) + " out of range (max " +
                std::to_string(EGRESSD_MAX_SCOPES) + ")");
  return mapPut(fds_.scopes, "scopes", scope_id, value);
}

Status PinnedMapBackend::putPrefix(const egressd_prefix_key& key, const egressd_prefix_value& value) {
  return mapPut(fds_.prefixes, "dest_prefixes", key, value);
}

Status PinnedMapBackend::deletePrefix(const egressd_prefix_key& key) {
  return mapDelete(fds_.prefixes, "dest_prefixes", key);
}

Status PinnedMapBackend::putPort(const egressd_port_key& key, const egressd_port_value& value) {
  return mapPut(fds_.ports, "dest_ports", key, value);
}

Status PinnedMapBackend::deletePort(const egressd_port_key& key) { return mapDelete(fds_.ports, "dest_ports", key); }

Status PinnedMapBackend::putDnsName(const egressd_dns_name_key& key, const egressd_dns_name_value& value) {
  return mapPut(fds_.dns_names, "dns_names", key, value);
}

Status PinnedMapBackend::deleteDnsName(const egressd_dns_name_key& key) {
  return mapDelete(fds_.dns_names, "dns_names", key);
}

Status PinnedMapBackend::putDnsServer(const egressd_dns_server_key& key, const egressd_dns_server_value& value) {
  return mapPut(fds_.dns_servers, "dns_servers", key, value);
}

Status PinnedMapBackend::deleteDnsServer(const egressd_dns_server_key& key) {
  return mapDelete(fds_.dns_servers, "dns_servers", key);
}

Status addAbiFlags(int abi_info_fd, uint32_t flags) {
  const uint32_t zero = 0;
  egressd_abi_info info{};
  if (bpf_map_lookup_elem(abi_info_fd, &zero, &info) != 0) return fail(errnoMessage("read abi_info", errno));
  if ((info.flags & flags) == flags) return Ok{};
  info.flags |= flags;
  return mapPut(abi_info_fd, "abi_info", zero, info);
}

Status PinnedMapBackend::putGateway(uint32_t gateway_id, const egressd_gateway_value& value) {
  if (gateway_id >= EGRESSD_MAX_GATEWAYS)
    return fail("update map gateways: gateway id " + std::to_string(gateway_id) + " out of range (max " +
                std::to_string(EGRESSD_MAX_GATEWAYS) + ")");
  // Before the first gateway can redirect a socket, sock_release must look
  // in the `redirected` LRU too (abi.h): until now it had nothing to find.
  if ((value.flags & EGRESSD_GATEWAY_F_ACTIVE) && !redirect_lru_flagged_ && fds_.abi_info >= 0) {
    if (auto st = addAbiFlags(fds_.abi_info, EGRESSD_ABI_F_REDIRECT_LRU_USED); !st) return st;
    redirect_lru_flagged_ = true;
  }
  return mapPut(fds_.gateways, "gateways", gateway_id, value);
}

// Batched (one syscall per chunk, not two per entry): the map holds up to
// EGRESSD_MAX_DNS_LEARNED entries and is read on every scope move.
Result<LearnedEntries> PinnedMapBackend::readLearned() {
  LearnedEntries out;
  constexpr uint32_t kChunk = 4096;
  std::vector<egressd_dns_learned_key> keys(kChunk);
  std::vector<egressd_dns_learned_value> values(kChunk);
  egressd_dns_learned_key batch{};
  bool first = true;
  for (;;) {
    uint32_t count = kChunk;
    const int rc = bpf_map_lookup_batch(fds_.dns_learned, first ? nullptr : &batch, &batch, keys.data(),
                                        values.data(), &count, nullptr);
    const int err = rc ? errno : 0;
    if (rc && err != ENOENT) {
      if (!first || (err != EINVAL && err != ENOTSUP && err != EOPNOTSUPP))
        return fail(errnoMessage("read map dns_learned", err));
      // No batch support: one key at a time.
      AbiMap<egressd_dns_learned_key, egressd_dns_learned_value> all;
      if (auto st = readAll(fds_.dns_learned, "dns_learned", all); !st) return fail(st.error());
      return LearnedEntries(all.begin(), all.end());
    }
    for (uint32_t i = 0; i < count; ++i) out.emplace_back(keys[i], values[i]);
    if (err == ENOENT) break;
    first = false;
  }
  return out;
}

Result<std::optional<egressd_dns_learned_value>> PinnedMapBackend::lookupLearned(const egressd_dns_learned_key& key) {
  egressd_dns_learned_value value{};
  if (bpf_map_lookup_elem(fds_.dns_learned, &key, &value) == 0) return {value};
  if (errno == ENOENT) return std::optional<egressd_dns_learned_value>{};
  return fail(errnoMessage("lookup in map dns_learned", errno));
}

Status PinnedMapBackend::putLearned(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) {
  return mapPut(fds_.dns_learned, "dns_learned", key, value);
}

Status PinnedMapBackend::deleteLearned(const egressd_dns_learned_key& key) {
  return mapDelete(fds_.dns_learned, "dns_learned", key);
}

}  // namespace egressd::bpf
