#include "agent/dns_view.h"

#include <arpa/inet.h>
#include <time.h>

#include <algorithm>
#include <cstring>

namespace egressd::agent {

using nlohmann::json;

uint64_t bootTimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::string learnedAddressText(const uint8_t (&addr)[16]) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  char buf[INET6_ADDRSTRLEN] = {};
  if (std::equal(kMapped, kMapped + 12, addr)) {
    inet_ntop(AF_INET, addr + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, addr, buf, sizeof(buf));
  }
  return buf;
}

json dnsLearnedJson(const AppliedPolicy* applied, const std::vector<bpf::DnsLearnedEntry>& entries, uint64_t now_ns,
                    bool include_expired) {
  std::vector<const bpf::DnsLearnedEntry*> sorted;
  for (const auto& e : entries) {
    if (include_expired || e.value.expires_ns > now_ns) sorted.push_back(&e);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::memcmp(&a->key, &b->key, sizeof(a->key)) < 0;
  });
  json out = json::array();
  for (const auto* e : sorted) {
    std::string scope = "scope " + std::to_string(e->key.scope_id);
    json names = json::array();
    if (applied) {
      for (const auto& s : applied->compiled.scopes) {
        if (s.id == e->key.scope_id) scope = s.key;
      }
      for (uint32_t id : e->value.class_ids) {
        if (!id) continue;
        auto it = applied->compiled.host_classes.find(id);
        // A class no longer in the policy: the entry no longer allows anything.
        names.push_back(it == applied->compiled.host_classes.end() ? "(removed host " + std::to_string(id) + ")"
                                                                    : it->second);
      }
    }
    const int64_t left = static_cast<int64_t>(e->value.expires_ns - now_ns) / 1000000000;
    out.push_back({{"scope", scope},
                   {"scope_id", e->key.scope_id},
                   {"names", names},
                   {"ip", learnedAddressText(e->key.addr)},
                   {"ttl_seconds", e->value.expires_ns > now_ns ? left : 0},
                   {"hits", e->value.hits}});
  }
  return out;
}

}  // namespace egressd::agent
