#include "sources/resolv_conf.h"

#include <fstream>
#include <sstream>

namespace egressd::sources {

std::vector<std::string> nameserversFromResolvConf(const std::string& path) {
  std::vector<std::string> servers;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (words >> keyword >> address && keyword == "nameserver") {
      // Strip an IPv6 zone ("fe80::1%eth0"): the kernel sees the bare address.
      servers.push_back(address.substr(0, address.find('%')));
    }
  }
  return servers;
}

}  // namespace egressd::sources
