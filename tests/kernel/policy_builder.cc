#include "kernel/policy_builder.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>

namespace egressd::ktest {

egressd_prefix_key prefixKey(const std::string& cidr) {
  const auto slash = cidr.find('/');
  const std::string addr = cidr.substr(0, slash);
  const int len = slash == std::string::npos ? -1 : std::atoi(cidr.c_str() + slash + 1);
  egressd_prefix_key key{};
  in_addr v4{};
  if (::inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
    key.addr[10] = 0xff;
    key.addr[11] = 0xff;
    std::memcpy(&key.addr[12], &v4, 4);
    key.prefixlen = static_cast<uint32_t>((len < 0 ? 32 : len) + 96);
  } else if (::inet_pton(AF_INET6, addr.c_str(), key.addr) == 1) {
    key.prefixlen = static_cast<uint32_t>(len < 0 ? 128 : len);
  } else {
    std::abort();
  }
  return key;
}

egressd_port_value portValue(std::initializer_list<uint32_t> scopes, uint32_t flags) {
  egressd_port_value value{};
  for (uint32_t scope : scopes) value.allow_scopes[scope / 64] |= 1ull << (scope % 64);
  value.flags = flags;
  return value;
}

egressd_scope_value activeScope(egressd_outbound_mode mode) {
  egressd_scope_value value{};
  value.flags = EGRESSD_SCOPE_F_ACTIVE;
  value.outbound_mode = static_cast<uint8_t>(mode);
  return value;
}

}  // namespace egressd::ktest
