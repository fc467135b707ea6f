#include "agent/api_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "agent/agent.h"
#include "agent/dns_view.h"
#include "common/abi_names.h"

namespace egressd::agent {
namespace {

using nlohmann::json;

std::string sourceText(const policy::SourceRef& source) {
  return source.line > 0 ? source.file + ":" + std::to_string(source.line) : source.file;
}

std::string modeName(policy::OutboundMode mode) {
  return mode == policy::OutboundMode::kRegistryOnly ? "REGISTRY_ONLY" : "ALLOW_ANY";
}

const policy::ServiceEntry* findServiceEntry(const policy::PolicySnapshot& snapshot, const std::string& id) {
  for (const auto& se : snapshot.service_entries) {
    if (se.meta.namespace_ + "/" + se.meta.name == id) return &se;
  }
  return nullptr;
}

json serviceEntryJson(const policy::ServiceEntry& se) {
  json ports = json::array();
  for (const auto& port : se.ports) {
    ports.push_back({{"number", port.number}, {"name", port.name}, {"protocol", port.protocol_name}});
  }
  return {{"name", se.meta.namespace_ + "/" + se.meta.name},
          {"hosts", se.hosts},
          {"addresses", se.addresses},
          {"ports", ports},
          {"source", sourceText(se.source)}};
}

// "1.2.3.4:443" or "[2001:db8::1]:443" -> (ip, port).
Result<std::pair<std::string, uint16_t>> splitHostPort(const std::string& to) {
  std::string ip, port;
  if (!to.empty() && to.front() == '[') {
    auto close = to.find("]:");
    if (close == std::string::npos) return fail("--to " + to + ": expected [IPv6]:PORT");
    ip = to.substr(1, close - 1);
    port = to.substr(close + 2);
  } else {
    auto colon = to.rfind(':');
    if (colon == std::string::npos || to.find(':') != colon) return fail("--to " + to + ": expected IP:PORT");
    ip = to.substr(0, colon);
    port = to.substr(colon + 1);
  }
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || number < 1 || number > 65535) {
    return fail("--to " + to + ": port must be 1-65535");
  }
  in6_addr probe{};
  if (inet_pton(AF_INET, ip.c_str(), &probe) != 1 && inet_pton(AF_INET6, ip.c_str(), &probe) != 1) {
    return fail("--to " + to + ": " + ip +
                " is not an IP address (hostnames are allowed through the IPs their DNS answers carry: "
                "explain one of those IPs)");
  }
  return std::pair{ip, static_cast<uint16_t>(number)};
}

}  // namespace

json rejectionsJson(const AppliedPolicy& applied) {
  json out = json::array();
  for (const auto& r : applied.rejected) {
    out.push_back({{"kind", r.kind},
                   {"namespace", r.namespace_},
                   {"name", r.name},
                   {"source", sourceText(r.source)},
                   {"reason", r.reason}});
  }
  return out;
}

Result<json> workloadPolicyJson(const AppliedPolicy& applied, const std::string& workload) {
  for (const auto& scope : applied.compiled.scopes) {
    if (std::find(scope.workloads.begin(), scope.workloads.end(), workload) == scope.workloads.end()) continue;
    json entries = json::array();
    for (const auto& id : scope.visible_service_entries) {
      if (const auto* se = findServiceEntry(applied.snapshot, id)) entries.push_back(serviceEntryJson(*se));
    }
    return json{{"workload", workload},
                {"cgroup_id", applied.workload_cgroups.at(workload)},
                {"scope", scope.key},
                {"scope_id", scope.id},
                {"mode", modeName(scope.mode)},
                {"sidecar", scope.sidecar ? json(*scope.sidecar) : json(nullptr)},
                {"service_entries", entries}};
  }
  if (auto it = applied.unresolved_workloads.find(workload); it != applied.unresolved_workloads.end()) {
    return fail("workload " + workload + " is not enforced: " + it->second);
  }
  return fail("no workload " + workload + " (expected NAMESPACE/NAME of a Workload in the policy)");
}

Result<json> explainJson(const AppliedPolicy& applied, const std::string& workload, const std::string& to,
                         const std::string& protocol) {
  auto target = splitHostPort(to);
  if (!target) return fail(target.error());
  uint8_t l4 = 0;
  if (protocol == "tcp") l4 = IPPROTO_TCP;
  else if (protocol == "udp") l4 = IPPROTO_UDP;
  else return fail("--protocol " + protocol + ": expected tcp or udp");
  auto explanation = compiler::explainConnection(applied.compiled, workload, target->first, target->second, l4);
  if (!explanation) return fail(explanation.error());
  return json{{"workload", workload},
              {"destination", to},
              {"protocol", protocol},
              {"verdict", verdictName(explanation->verdict)},
              {"reason", reasonName(explanation->reason)},
              {"service_entry", explanation->service_entry ? json(*explanation->service_entry) : json(nullptr)},
              {"scope", explanation->scope_key},
              {"detail", explanation->detail},
              {"generation", applied.generation}};
}

void Agent::registerRoutes() {
  using admin::Query;
  using admin::Response;
  auto jsonResponse = [](int status, const json& body) { return Response{status, "application/json", body.dump(2)}; };
  auto errorResponse = [jsonResponse](int status, const std::string& message) {
    return jsonResponse(status, json{{"error", message}});
  };

  admin_.route("/healthz", [](const Query&) { return Response{200, "text/plain", "ok\n"}; });
  admin_.route("/readyz", [this](const Query&) {
    return ready_ ? Response{200, "text/plain", "ready\n"} : Response{503, "text/plain", "not ready\n"};
  });
  admin_.route("/metrics", [this](const Query&) {
    refreshKernelMetrics();
    return Response{200, "text/plain; version=0.0.4", metrics_.render()};
  });
  admin_.route("/api/v1/status", [this, jsonResponse](const Query&) {
    auto applied = state_.current();
    json programs = json::array();
    for (const auto& p : datapath_->programs()) {
      programs.push_back({{"name", p.name}, {"id", p.id}, {"attach", p.attach_point}, {"verified_insns", p.verified_insns}});
    }
    json maps = json::array();
    for (const auto& m : datapath_->mapFill()) {
      maps.push_back({{"name", m.name}, {"entries", m.entries}, {"capacity", m.capacity}});
    }
    json out{{"ready", ready_.load()}, {"adopted", datapath_->adopted()}, {"bpffs", options_.bpffs},
             {"programs", programs}, {"maps", maps}};
    if (applied) {
      out["generation"] = applied->generation;
      out["applied_at"] = std::chrono::duration_cast<std::chrono::seconds>(applied->applied_at.time_since_epoch()).count();
      out["sync_seconds"] = applied->sync_seconds;
      out["scopes"] = applied->compiled.scopes.size();
      out["workloads"] = {{"enforced", applied->workload_cgroups.size()}, {"unresolved", applied->unresolved_workloads}};
      out["rejected"] = rejectionsJson(*applied);
      out["sync_errors"] = applied->sync_errors;
    }
    return jsonResponse(200, out);
  });
  admin_.route("/api/v1/policy", [this, jsonResponse, errorResponse](const Query& query) {
    auto applied = state_.current();
    if (!applied) return errorResponse(503, "no policy applied yet");
    auto it = query.find("workload");
    if (it == query.end()) return errorResponse(400, "missing ?workload=NAMESPACE/NAME");
    auto body = workloadPolicyJson(*applied, it->second);
    return body ? jsonResponse(200, *body) : errorResponse(404, body.error());
  });
  admin_.route("/api/v1/dns", [this, jsonResponse, errorResponse](const Query& query) {
    auto entries = datapath_->readDnsLearned();
    if (!entries) return errorResponse(500, entries.error());
    auto applied = state_.current();
    const bool all = query.count("all") && query.at("all") == "1";
    return jsonResponse(200, json{{"entries", dnsLearnedJson(applied.get(), *entries, bootTimeNs(), all)}});
  });
  admin_.route("/api/v1/explain", [this, jsonResponse, errorResponse](const Query& query) {
    auto applied = state_.current();
    if (!applied) return errorResponse(503, "no policy applied yet");
    if (!query.count("workload") || !query.count("to")) return errorResponse(400, "need ?workload=NS/NAME&to=IP:PORT");
    std::string protocol = query.count("protocol") ? query.at("protocol") : "tcp";
    auto body = explainJson(*applied, query.at("workload"), query.at("to"), protocol);
    return body ? jsonResponse(200, *body) : errorResponse(400, body.error());
  });
}

}  // namespace egressd::agent
