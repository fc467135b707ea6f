#pragma once
// The learned DNS entries (map dns_learned) as users read them: scope, host
// names, IP, TTL left, hits. Pure, so it is testable without a kernel.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/agent_state.h"
#include "bpf/datapath.h"

namespace egressd::agent {

// CLOCK_BOOTTIME in ns, the kernel's bpf_ktime_get_boot_ns().
uint64_t bootTimeNs();

// "192.0.2.1" for v4-mapped, else IPv6 text.
std::string learnedAddressText(const uint8_t (&addr)[16]);

// Entries sorted by scope then IP; expired ones only when include_expired.
nlohmann::json dnsLearnedJson(const AppliedPolicy* applied, const std::vector<bpf::DnsLearnedEntry>& entries,
                              uint64_t now_ns, bool include_expired);

}  // namespace egressd::agent
