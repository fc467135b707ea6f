#include "compiler/host_classes.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "../../bpf/lib/dns_parse.h"
#include "compiler/hashing.h"

namespace egressd::compiler {

std::optional<HostName> normalizeHost(const std::string& host) {
  HostName out;
  out.text = host;
  std::transform(out.text.begin(), out.text.end(), out.text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!out.text.empty() && out.text.back() == '.') out.text.pop_back();
  // "*" (every name) and short names ("svc") can't be told apart from other
  // names in a DNS answer: they are never learned.
  if (out.text.find('.') == std::string::npos) return std::nullopt;
  uint8_t rname[DNS_RNAME_SIZE] = {};
  int wildcard = 0;
  const int len = dns_rname_from_text(out.text.data(), static_cast<__u32>(out.text.size()), rname, &wildcard);
  if (len <= 0 || out.text.find('*', wildcard ? 1 : 0) != std::string::npos) return std::nullopt;
  out.wildcard = wildcard != 0;
  out.rname.assign(rname, rname + len);
  return out;
}

uint64_t rnameHash(const std::vector<uint8_t>& rname) {
  return dns_rname_hash(rname.data(), static_cast<__u32>(rname.size()));
}

uint32_t HostTable::classIdHash(const std::string& host_text) {
  const uint64_t h = fnv1a64("host:" + host_text);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

void HostTable::grant(const HostName& host, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
                      uint32_t service_id) {
  auto& h = hosts_[host.text];
  h.name = host;
  auto& entry = h.ports[{port, protocol}];
  for (size_t w = 0; w < scopes.size(); ++w) entry.scopes[w] |= scopes[w];
  entry.service_id = std::min(entry.service_id, service_id);
}

void HostTable::redirect(const HostName& host, uint16_t port, uint8_t protocol, const ScopeSet& scopes,
                         uint32_t gateway_id) {
  auto& h = hosts_[host.text];
  h.name = host;
  auto& entry = h.ports[{port, protocol}];
  for (size_t w = 0; w < scopes.size(); ++w) {
    entry.scopes[w] |= scopes[w];
    entry.redirect_scopes[w] |= scopes[w];
  }
  if (!entry.gateway_id || gateway_id < entry.gateway_id) entry.gateway_id = gateway_id;
}

std::map<uint32_t, std::string> HostTable::emit(DesiredState& desired, std::vector<std::string>& errors,
                                                const ClassIds& previous) const {
  std::set<uint32_t> used{0};  // 0 means "no class" in dns_names and dns_learned
  for (const auto& [prefix, value] : desired.prefixes) used.insert(value.class_id);
  for (const auto& [key, value] : desired.ports) used.insert(key.class_id);

  // Hosts in force keep their ids; new ones avoid every id in force.
  std::map<std::string, uint32_t> ids;
  for (const auto& [text, host] : hosts_) {
    auto it = previous.hosts.find({host.name.rname, host.name.wildcard});
    if (it != previous.hosts.end() && used.insert(it->second).second) ids[text] = it->second;
  }
  for (const auto& [text, host] : hosts_) {
    if (ids.count(text)) continue;
    uint32_t class_id = classIdHash(text);
    while (previous.used.count(class_id) || !used.insert(class_id).second) ++class_id;
    ids[text] = class_id;
  }

  std::map<uint32_t, std::string> class_hosts;
  for (const auto& [text, host] : hosts_) {
    const uint32_t class_id = ids.at(text);
    class_hosts[class_id] = text;

    std::array<uint64_t, EGRESSD_SCOPE_WORDS> learners{};
    for (const auto& [port, entry] : host.ports) {
      egressd_port_key key{};
      key.class_id = class_id;
      key.port = port.first;
      key.protocol = port.second;
      egressd_port_value value{};
      std::copy(entry.scopes.begin(), entry.scopes.end(), value.allow_scopes);
      std::copy(entry.redirect_scopes.begin(), entry.redirect_scopes.end(), value.redirect_scopes);
      value.gateway_id = entry.gateway_id;
      value.service_id = entry.service_id == UINT32_MAX ? 0 : entry.service_id;
      desired.ports[key] = value;
      for (size_t i = 0; i < learners.size(); ++i) learners[i] |= entry.scopes[i];
    }

    egressd_dns_name_key key{rnameHash(host.name.rname)};
    auto [it, inserted] = desired.dns_names.try_emplace(key, egressd_dns_name_value{});
    auto& value = it->second;
    if (!inserted && (value.rname_len != host.name.rname.size() ||
                      std::memcmp(value.rname, host.name.rname.data(), host.name.rname.size()) != 0)) {
      errors.push_back("host " + text + ": its name hash collides with another host's; not learned from DNS");
      continue;
    }
    value.rname_len = static_cast<uint16_t>(host.name.rname.size());
    std::memcpy(value.rname, host.name.rname.data(), host.name.rname.size());
    auto* scopes = host.name.wildcard ? value.wildcard_scopes : value.exact_scopes;
    (host.name.wildcard ? value.wildcard_class : value.exact_class) = class_id;
    std::copy(learners.begin(), learners.end(), scopes);
  }
  return class_hosts;
}

}  // namespace egressd::compiler
