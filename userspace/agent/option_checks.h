#pragma once
// Checks every flag and path before the agent touches the kernel: a typo is
// an error at start that names the flag and what was expected, never an agent
// that reports ready while enforcing nothing.
#include <string>

#include "agent/options.h"
#include "common/result.h"
#include "compiler/compiler.h"

namespace egressd::agent {

// All problems found, one per line; Ok when the options can be used.
Status checkAgentOptions(const AgentOptions& options);

// "IP", "IP:PORT", "[v6]:PORT" or a bare IPv6 address (--dns-server).
Result<compiler::DnsServer> parseDnsServerFlag(const std::string& text);

}  // namespace egressd::agent
