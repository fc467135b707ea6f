#pragma once
// Default trusted resolvers: the nameservers of resolv.conf.
#include <string>
#include <vector>

namespace egressd::sources {

std::vector<std::string> nameserversFromResolvConf(const std::string& path = "/etc/resolv.conf");

}  // namespace egressd::sources
