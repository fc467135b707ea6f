#pragma once
// Names of ABI enums as they appear in metric labels, logs and JSON.
#include <string_view>

#include "egressd/abi.h"

namespace egressd {

std::string_view verdictName(egressd_verdict verdict);
std::string_view reasonName(egressd_reason reason);
std::string_view hookName(egressd_hook hook);
std::string_view dnsCounterName(egressd_dns_counter counter);
std::string_view protocolName(uint8_t l4_protocol);

}  // namespace egressd
