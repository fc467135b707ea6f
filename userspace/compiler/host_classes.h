#pragma once
// ServiceEntry hosts as destination classes, for DNS learning. A host is a
// class like a prefix is: dest_ports{host class, port, protocol} -> scopes.
// The kernel finds a host's class from the DNS question name through
// dns_names (reversed wire name, suffix hash; bpf/lib/dns_parse.h) and learns
// the answer's IPs for it; the connect path then checks the class's ports.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/desired_state.h"
#include "compiler/prefix_classes.h"

namespace egressd::compiler {

struct HostName {
  std::string text;  // lowercased, no trailing dot: "api.example.com", "*.example.com"
  bool wildcard = false;
  std::vector<uint8_t> rname;  // reversed wire name (of the suffix, for a wildcard)
};

// nullopt for what DNS learning can't use ("*", short or invalid names).
std::optional<HostName> normalizeHost(const std::string& host);

// Suffix hash of an rname, exactly as the kernel computes suffix_hash[].
uint64_t rnameHash(const std::vector<uint8_t>& rname);

class HostTable {
 public:
  void grant(const HostName& host, uint16_t port, uint8_t protocol, const ScopeSet& scopes, uint32_t service_id);

  // Sends `scopes` to gateway_id for this host (and allows it).
  void redirect(const HostName& host, uint16_t port, uint8_t protocol, const ScopeSet& scopes, uint32_t gateway_id);

  // Writes desired.ports for every host class and desired.dns_names. A host
  // keeps its class id in `previous`; a new one takes a hash of "host:" +
  // name, moved past ids already used by prefix classes, by `previous`, or 0.
  // Returns class id -> host text.
  std::map<uint32_t, std::string> emit(DesiredState& desired, std::vector<std::string>& errors,
                                       const ClassIds& previous = {}) const;

  static uint32_t classIdHash(const std::string& host_text);

 private:
  struct Entry {
    ScopeSet scopes{};
    ScopeSet redirect_scopes{};
    uint32_t gateway_id = 0;
    uint32_t service_id = UINT32_MAX;
  };
  struct Host {
    HostName name;
    std::map<std::pair<uint16_t, uint8_t>, Entry> ports;
  };
  std::map<std::string, Host> hosts_;  // by text
};

}  // namespace egressd::compiler
