#include "kube/discovery.h"

#include <array>
#include <nlohmann/json.hpp>

namespace egressd::kube {
namespace {

using json = nlohmann::json;

constexpr std::array<const char*, 3> kPreference = {"v1", "v1beta1", "v1alpha3"};

Result<json> getJson(Transport& transport, const std::string& path, const CancelCheck& cancelled, bool& not_found) {
  auto response = transport.get({path, {}, std::chrono::seconds(30)}, cancelled);
  if (!response) return fail("discovery " + path + ": " + response.error());
  not_found = response->status == 404;
  if (not_found) return json();
  if (response->status != 200) {
    return fail("discovery " + path + ": HTTP " + std::to_string(response->status));
  }
  json body = json::parse(response->body, nullptr, false);
  if (!body.is_object()) return fail("discovery " + path + ": the answer is not a JSON object");
  return body;
}

}  // namespace

ServedVersions preferredVersions(const std::map<std::string, std::set<std::string>>& kinds_by_version) {
  ServedVersions chosen;
  for (const char* version : kPreference) {
    auto served = kinds_by_version.find(version);
    if (served == kinds_by_version.end()) continue;
    for (const std::string& kind : served->second) chosen.emplace(kind, version);  // first (preferred) wins
  }
  return chosen;
}

Result<ServedVersions> discoverIstioNetworking(Transport& transport, const CancelCheck& cancelled) {
  const std::string group_path = std::string("/apis/") + kIstioNetworkingGroup;
  bool not_found = false;
  auto group = getJson(transport, group_path, cancelled, not_found);
  if (!group) return fail(group.error());
  if (not_found) return ServedVersions{};  // no Istio CRD installed at all

  std::set<std::string> versions;
  if (group->contains("versions") && (*group)["versions"].is_array()) {
    for (const json& v : (*group)["versions"]) {
      if (v.is_object() && v.contains("version") && v["version"].is_string()) versions.insert(v["version"].get<std::string>());
    }
  }
  std::map<std::string, std::set<std::string>> kinds_by_version;
  for (const char* version : kPreference) {
    if (versions.count(version) == 0) continue;
    auto resources = getJson(transport, group_path + "/" + version, cancelled, not_found);
    if (!resources) return fail(resources.error());
    if (not_found || !resources->contains("resources") || !(*resources)["resources"].is_array()) continue;
    for (const json& resource : (*resources)["resources"]) {
      if (!resource.is_object()) continue;
      const std::string name = resource.value("name", "");
      if (name.empty() || name.find('/') != std::string::npos) continue;  // "serviceentries/status"
      const std::string kind = resource.value("kind", "");
      if (!kind.empty()) kinds_by_version[version].insert(kind);
    }
  }
  return preferredVersions(kinds_by_version);
}

}  // namespace egressd::kube
