#pragma once
// Map entries for tests, written by hand (not by the compiler) so kernel
// tests check the datapath alone.
#include <cstdint>
#include <initializer_list>
#include <string>

#include "egressd/abi.h"

namespace egressd::ktest {

// "192.0.2.0/24" -> ::ffff:192.0.2.0/120; "2001:db8::/64" as is. Aborts the
// test binary on a malformed literal (a bug in the test itself).
egressd_prefix_key prefixKey(const std::string& cidr);
egressd_port_value portValue(std::initializer_list<uint32_t> scopes, uint32_t flags = 0);
egressd_scope_value activeScope(egressd_outbound_mode mode);

}  // namespace egressd::ktest
