#include "agent/api_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "agent/agent.h"
#include "agent/dns_view.h"
#include "agent/event_query.h"
#include "agent/workload_cgroups.h"
#include "common/abi_names.h"
#include "compiler/address.h"
#include "compiler/explain_sni.h"
#include "compiler/host_classes.h"

namespace egressd::agent {
namespace {

using nlohmann::json;

std::string sourceText(const policy::SourceRef& source) {
  return source.line > 0 ? source.file + ":" + std::to_string(source.line) : source.file;
}

std::string modeName(policy::OutboundMode mode) {
  return mode == policy::OutboundMode::kRegistryOnly ? "REGISTRY_ONLY" : "ALLOW_ANY";
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

struct Target {
  std::string address;  // IP text, or a host name
  uint16_t port = 0;
  bool is_ip = true;
};

// "1.2.3.4:443", "[2001:db8::1]:443" or "api.example.com:443".
Result<Target> splitHostPort(const std::string& to) {
  std::string ip, port;
  if (!to.empty() && to.front() == '[') {
    auto close = to.find("]:");
    if (close == std::string::npos) return fail("--to " + to + ": expected [IPv6]:PORT");
    ip = to.substr(1, close - 1);
    port = to.substr(close + 2);
  } else {
    auto colon = to.rfind(':');
    if (colon == std::string::npos || to.find(':') != colon) return fail("--to " + to + ": expected IP:PORT or HOST:PORT");
    ip = to.substr(0, colon);
    port = to.substr(colon + 1);
  }
  char* end = nullptr;
  long number = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || number < 1 || number > 65535) {
    return fail("--to " + to + ": port must be 1-65535");
  }
  in6_addr probe{};
  const bool is_ip = inet_pton(AF_INET, ip.c_str(), &probe) == 1 || inet_pton(AF_INET6, ip.c_str(), &probe) == 1;
  if (!is_ip && !compiler::normalizeHost(ip)) {
    return fail("--to " + to + ": " + ip + " is neither an IP address nor a fully qualified host name");
  }
  return Target{ip, static_cast<uint16_t>(number), is_ip};
}

json learnedJson(const std::optional<compiler::LearnedExplanation>& learned) {
  if (!learned) return nullptr;
  return {{"hosts", learned->hosts},
          {"expires_in_seconds", learned->expires_in_s},
          {"expired", learned->expired},
          {"decided", learned->decided}};
}

json explanationJson(const compiler::Explanation& ex) {
  return {{"verdict", verdictName(ex.verdict)},
          {"reason", reasonName(ex.reason)},
          {"service_entry", ex.service_entry ? json(*ex.service_entry) : json(nullptr)},
          {"scope", ex.scope_key},
          {"detail", ex.detail},
          {"learned", learnedJson(ex.learned)}};
}

// The kernel's key for (scope, ip): IPv4 v4-mapped.
std::optional<egressd_dns_learned_key> learnedKey(uint32_t scope_id, const std::string& ip) {
  auto address = compiler::parseAddress(ip);
  if (!address) return std::nullopt;
  egressd_dns_learned_key key{};
  key.scope_id = scope_id;
  std::memcpy(key.addr, address->addr, sizeof(key.addr));
  return key;
}

Result<compiler::Explanation> explainIp(const AppliedPolicy& applied, const std::string& workload,
                                        const std::string& ip, uint16_t port, uint8_t l4,
                                        const LearnedReader& learned) {
  std::optional<compiler::LearnedEntry> entry;
  if (auto scope = compiler::workloadScopeId(applied.compiled, workload)) {
    auto key = learnedKey(*scope, ip);
    std::optional<egressd_dns_learned_value> value;
    if (key && learned.lookup) value = learned.lookup(*key);
    if (value) {
      entry = compiler::LearnedEntry{};
      std::copy(std::begin(value->class_ids), std::end(value->class_ids), entry->class_ids.begin());
      entry->expires_ns = value->expires_ns;
      entry->now_ns = learned.now_ns;
    }
  }
  return compiler::explainConnection(applied.compiled, workload, ip, port, l4, entry);
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

json workloadsJson(const AppliedPolicy& applied, const WorkloadsView& view) {
  json rows = json::array();
  std::set<std::string> uids;
  for (const auto& w : applied.snapshot.workloads) {
    const std::string id = w.meta.namespace_ + "/" + w.meta.name;
    if (w.pod) uids.insert(w.pod->uid);
    json row{{"workload", id},
             {"kind", w.pod ? "Pod" : "Workload"},
             {"uid", w.pod ? json(w.pod->uid) : json(nullptr)},
             {"source_workload", policy::telemetryName(w)},
             {"host_network", w.pod && w.pod->host_network},
             {"scope", nullptr}, {"mode", nullptr}, {"audit", nullptr}, {"sidecar", nullptr}, {"tc", nullptr}};
    auto path = applied.cgroup_paths.find(id);
    row["cgroup"] = path != applied.cgroup_paths.end() ? json(path->second) : json(nullptr);
    auto enforced = applied.workload_cgroups.find(id);
    row["cgroup_id"] = enforced != applied.workload_cgroups.end() ? json(enforced->second) : json(nullptr);
    if (auto excluded = applied.compiled.excluded_pods.find(id); excluded != applied.compiled.excluded_pods.end()) {
      row["state"] = "excluded";
      row["reason"] = excluded->second;
    } else if (auto unresolved = applied.unresolved_workloads.find(id); unresolved != applied.unresolved_workloads.end()) {
      const bool waiting = unresolved->second.rfind(kWaitingForCgroup, 0) == 0;
      row["state"] = waiting ? kWaitingForCgroup : "not enforced";
      row["reason"] = unresolved->second;
    } else if (const auto* scope = compiler::scopeOfWorkload(applied.compiled, id)) {
      row["state"] = "enforced";
      row["reason"] = nullptr;
      row["scope"] = scope->key;
      row["mode"] = modeName(scope->mode);
      row["sidecar"] = scope->sidecar ? json(*scope->sidecar) : json(nullptr);
      auto audit = applied.compiled.workload_audit.find(id);
      row["audit"] = audit != applied.compiled.workload_audit.end() && audit->second.on;
      // The packet backstop: attached, pending, or why there is none.
      json tc{{"interface", nullptr}, {"mode", nullptr}, {"none", nullptr}, {"pending", nullptr}};
      if (w.pod && w.pod->host_network) {
        tc["none"] = "hostNetwork: no interface of its own (the cgroup hooks enforce it)";
      } else if (view.tc_off) {
        tc["none"] = "--tc-mode off";
      } else {
        for (const auto& t : view.tc) {
          if (t.workload != id) continue;
          if (t.pending.empty()) {
            tc["interface"] = t.interface;
            tc["mode"] = t.mode;
          } else {
            tc[t.none ? "none" : "pending"] = t.pending;
          }
        }
      }
      row["tc"] = tc;
    } else {
      row["state"] = "not enforced";
      row["reason"] = "no scope written (see egressctl status)";
    }
    rows.push_back(std::move(row));
  }
  const std::string unknown_mode = view.unknown_pods == "deny"
                                       ? "denied but loopback, trusted DNS and --cluster-cidr (--unknown-pods deny)"
                                       : "untouched (--unknown-pods allow)";
  for (const auto& found : view.pod_cgroups) {
    if (uids.count(found.uid)) continue;
    rows.push_back({{"workload", nullptr}, {"kind", nullptr}, {"uid", found.uid}, {"source_workload", nullptr},
                    {"host_network", false}, {"cgroup", found.path}, {"cgroup_id", nullptr},
                    {"state", "unknown cgroup"}, {"reason", "no Pod of this node has uid " + found.uid},
                    {"scope", nullptr}, {"mode", unknown_mode}, {"audit", nullptr}, {"sidecar", nullptr},
                    {"tc", nullptr}});
  }
  return json{{"workloads", rows}, {"generation", applied.generation}};
}

// Where Istio would send this scope's flows through the egress gateway, and
// what the kernel can't follow faithfully there.
json gatewayRoutesJson(const compiler::CompiledScope& scope) {
  json routes = json::array();
  for (const auto& r : scope.gateway_routes) {
    routes.push_back({{"host", r.host},
                      {"port", r.port},
                      {"gateway", r.target.service},
                      {"gateway_addresses", r.target.addresses},
                      {"gateway_port", r.target.port},
                      {"virtual_service", r.virtual_service},
                      {"unsupported", r.unsupported}});
  }
  return routes;
}

json gatewayIssuesJson(const AppliedPolicy& applied) {
  json issues = json::array();
  for (const auto& i : applied.compiled.gateway_issues) issues.push_back(compiler::describe(i));
  return issues;
}

Result<json> workloadPolicyJson(const AppliedPolicy& applied, const std::string& workload) {
  if (const auto* scope = compiler::scopeOfWorkload(applied.compiled, workload)) {
    json entries = json::array();
    for (uint32_t service : scope->visible_services) {
      const std::string& id = applied.compiled.services[service];
      if (const auto* se = policy::findServiceEntry(applied.snapshot, id)) entries.push_back(serviceEntryJson(*se));
    }
    compiler::AuditSetting audit;
    if (auto it = applied.compiled.workload_audit.find(workload); it != applied.compiled.workload_audit.end()) {
      audit = it->second;
    }
    return json{{"workload", workload},
                {"cgroup_id", applied.workload_cgroups.at(workload)},
                {"scope", scope->key},
                {"scope_id", scope->id},
                {"mode", modeName(scope->mode)},
                {"audit", audit.on},
                {"audit_source", audit.source.empty() ? json(nullptr) : json(audit.source)},
                {"sidecar", scope->sidecar ? json(*scope->sidecar) : json(nullptr)},
                {"service_entries", entries},
                {"egress_gateway", std::find(scope->gateway_workloads.begin(), scope->gateway_workloads.end(),
                                             workload) != scope->gateway_workloads.end()},
                {"gateway_routes", gatewayRoutesJson(*scope)},
                {"gateway_issues", gatewayIssuesJson(applied)}};
  }
  if (auto it = applied.unresolved_workloads.find(workload); it != applied.unresolved_workloads.end()) {
    return fail("workload " + workload + " is not enforced: " + it->second);
  }
  if (auto it = applied.compiled.excluded_pods.find(workload); it != applied.compiled.excluded_pods.end()) {
    return fail("pod " + workload + " is left alone (not enforced): " + it->second);
  }
  return fail("no workload " + workload + " (expected NAMESPACE/NAME of a pod of this node or a Workload in the policy)");
}

namespace {

// What the SNI changes (compiler/explain_sni.h), next to the kernel's verdict.
Result<json> sniJson(const AppliedPolicy& applied, const std::string& workload, const std::string& sni, uint16_t port,
                     egressd_verdict kernel_verdict, std::vector<std::string> destination_hosts) {
  compiler::SniQuestion question{workload, sni, port, kernel_verdict, std::move(destination_hosts)};
  auto e = compiler::explainSni(applied.compiled, applied.snapshot, question);
  if (!e) return fail(e.error());
  json route = nullptr;
  if (e->gateway_route) {
    route = {{"host", e->gateway_route->host},
             {"port", e->gateway_route->port},
             {"gateway", e->gateway_route->target.service},
             {"virtual_service", e->gateway_route->virtual_service}};
  }
  return json{{"name", e->sni},
              {"service_entry", e->service_entry ? json(*e->service_entry) : json(nullptr)},
              {"registered_host", e->registered_host ? json(*e->registered_host) : json(nullptr)},
              {"covers_destination", e->covers_destination},
              {"egress_gateway", e->egress_gateway},
              {"sidecar_verdict", verdictName(e->sidecar_verdict)},
              {"gateway_route", route},
              {"agrees", e->agrees},
              {"detail", e->detail}};
}

// The hosts the kernel knows an explained IP by: learned for it (and not
// expired), or those of the ServiceEntry that decided.
std::vector<std::string> hostsKnownFor(const AppliedPolicy& applied, const compiler::Explanation& ex) {
  std::vector<std::string> hosts;
  if (ex.learned && !ex.learned->expired) hosts = ex.learned->hosts;
  if (ex.service_entry) {
    if (const auto* se = policy::findServiceEntry(applied.snapshot, *ex.service_entry)) {
      hosts.insert(hosts.end(), se->hosts.begin(), se->hosts.end());
    }
  }
  return hosts;
}

}  // namespace

Result<json> explainJson(const AppliedPolicy& applied, const std::string& workload, const std::string& to,
                         const std::string& protocol, const LearnedReader& learned, const std::string& sni) {
  auto target = splitHostPort(to);
  if (!target) return fail(target.error());
  uint8_t l4 = 0;
  if (protocol == "tcp") l4 = IPPROTO_TCP;
  else if (protocol == "udp") l4 = IPPROTO_UDP;
  else return fail("--protocol " + protocol + ": expected tcp or udp");
  json out{{"workload", workload}, {"destination", to}, {"protocol", protocol}, {"generation", applied.generation}};
  if (target->is_ip) {
    auto explanation = explainIp(applied, workload, target->address, target->port, l4, learned);
    if (!explanation) return fail(explanation.error());
    out.update(explanationJson(*explanation));
    if (!sni.empty()) {
      auto s = sniJson(applied, workload, sni, target->port, explanation->verdict, hostsKnownFor(applied, *explanation));
      if (!s) return fail(s.error());
      out["sni"] = *s;
    }
    return out;
  }

  // A host: the kernel decides per IP, so explain every IP it learned for the
  // name (exact or wildcard class) in this workload's scope, not expired.
  auto scope = compiler::workloadScopeId(applied.compiled, workload);
  if (!scope) {
    // Unknown or untouched workload: the IP path says which, in the same words.
    auto explanation = compiler::explainConnection(applied.compiled, workload, "0.0.0.0", target->port, l4);
    if (!explanation) return fail(explanation.error());
    out.update(explanationJson(*explanation));
    out["host"] = target->address;
    out["learned_ips"] = json::array();
    return out;
  }
  const auto classes = compiler::hostClassesFor(applied.compiled, target->address);
  std::vector<bpf::DnsLearnedEntry> entries = learned.all ? learned.all() : std::vector<bpf::DnsLearnedEntry>{};
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::memcmp(a.key.addr, b.key.addr, sizeof(a.key.addr)) < 0;
  });
  json ips = json::array();
  std::set<egressd_verdict> verdicts;
  std::string scope_key;
  for (const auto& e : entries) {
    if (e.key.scope_id != *scope || e.value.expires_ns <= learned.now_ns) continue;
    const bool for_host = std::any_of(std::begin(e.value.class_ids), std::end(e.value.class_ids), [&](uint32_t id) {
      return id && std::find(classes.begin(), classes.end(), id) != classes.end();
    });
    if (!for_host) continue;
    const std::string ip = learnedAddressText(e.key.addr);
    auto explanation = explainIp(applied, workload, ip, target->port, l4, learned);
    if (!explanation) continue;
    json row = explanationJson(*explanation);
    row["ip"] = ip;
    verdicts.insert(explanation->verdict);
    scope_key = explanation->scope_key;
    ips.push_back(std::move(row));
  }
  out["host"] = target->address;
  out["learned_ips"] = ips;
  out["service_entry"] = nullptr;
  out["scope"] = scope_key;
  out["learned"] = nullptr;
  if (ips.empty()) {
    out["verdict"] = "unknown";
    out["reason"] = "not_learned";
    out["detail"] = classes.empty()
                        ? "no ServiceEntry host matches " + target->address +
                              ": its IPs are never learned from DNS; explain an IP to see its verdict"
                        : "no IP is currently learned for " + target->address +
                              " in this workload's scope: the kernel learns IPs from the workload's own DNS "
                              "answers; resolve it from the workload, or explain an IP";
  } else if (verdicts.size() == 1) {
    out["verdict"] = verdictName(*verdicts.begin());
    out["reason"] = ips.front()["reason"];
    out["detail"] = std::to_string(ips.size()) + " IP(s) learned for " + target->address + ", each: " +
                    ips.front()["detail"].get<std::string>();
  } else {
    out["verdict"] = "mixed";
    out["reason"] = "per_ip";
    out["detail"] = "the learned IPs of " + target->address + " get different verdicts: see learned_ips";
  }
  if (!sni.empty()) {
    if (verdicts.size() != 1) {
      out["sni"] = {{"name", sni},
                    {"detail", "the kernel has no single verdict for " + target->address +
                                   " (see detail): explain one of its IPs with --sni"}};
    } else {
      auto s = sniJson(applied, workload, sni, target->port, *verdicts.begin(), {target->address});
      if (!s) return fail(s.error());
      out["sni"] = *s;
    }
  }
  return out;
}

void Agent::registerRoutes() {
  using admin::Query;
  using admin::Response;
  auto jsonResponse = [](int status, const json& body) { return Response{status, "application/json", body.dump(2)}; };
  auto errorResponse = [jsonResponse](int status, const std::string& message) {
    return jsonResponse(status, json{{"error", message}});
  };

  admin_.route("/healthz", [](const Query&) { return Response{200, "text/plain", "ok\n"}; });
  // Ready: programs attached and the whole current policy in the maps. An
  // object left out of a full map (compiler/admission.h) makes it not ready,
  // saying so; everything that fits is enforced meanwhile.
  admin_.route("/readyz", [this](const Query&) {
    if (!ready_) return Response{503, "text/plain", "not ready\n"};
    if (auto left_out = notEnforcedCount())
      return Response{503, "text/plain",
                      "not ready: " + std::to_string(left_out) +
                          " object(s) not enforced, no room in the maps (egressctl status)\n"};
    return Response{200, "text/plain", "ready\n"};
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
    json tc = json::array();
    if (tc_) {
      for (const auto& t : tc_->status()) {
        json entry{{"workload", t.workload}};
        if (t.pending.empty()) {
          entry.update({{"interface", t.interface}, {"ifindex", t.ifindex}, {"mode", t.mode}});
        } else {
          entry["pending"] = t.pending;
        }
        tc.push_back(entry);
      }
    }
    json out{{"ready", ready_.load() && notEnforcedCount() == 0}, {"adopted", datapath_->adopted()}, {"bpffs", options_.bpffs},
             {"programs", programs}, {"maps", maps}, {"tc_mode", options_.tc_mode}, {"tc_interfaces", tc}};
    if (applied) {
      out["generation"] = applied->generation;
      out["applied_at"] = std::chrono::duration_cast<std::chrono::seconds>(applied->applied_at.time_since_epoch()).count();
      out["sync_seconds"] = applied->sync_seconds;
      out["scopes"] = applied->compiled.scopes.size();
      out["workloads"] = {{"enforced", applied->workload_cgroups.size()}, {"unresolved", applied->unresolved_workloads}};
      out["rejected"] = rejectionsJson(*applied);
      out["sync_errors"] = applied->sync_errors;
      json left_out = json::array();
      for (const auto& n : applied->not_enforced)
        left_out.push_back(
            {{"kind", n.kind}, {"name", n.name}, {"map", n.map}, {"capacity", n.capacity}, {"effect", n.effect}});
      out["not_enforced"] = left_out;
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
  admin_.route("/api/v1/workloads", [this, jsonResponse, errorResponse](const Query&) {
    auto applied = state_.current();
    if (!applied) return errorResponse(503, "no policy applied yet");
    WorkloadsView view;
    view.unknown_pods = options_.unknown_pods;
    view.tc_off = !tc_;
    if (tc_) view.tc = tc_->status();
    if (kubeMode())
      view.pod_cgroups = kube::listPodCgroups(options_.cgroup_root.empty() ? bpf::cgroup2MountRoot() : options_.cgroup_root);
    return jsonResponse(200, workloadsJson(*applied, view));
  });
  admin_.route("/api/v1/dns", [this, jsonResponse, errorResponse](const Query& query) {
    auto entries = datapath_->readDnsLearned();
    if (!entries) return errorResponse(500, entries.error());
    auto applied = state_.current();
    const bool all = query.count("all") && query.at("all") == "1";
    return jsonResponse(200, json{{"entries", dnsLearnedJson(applied.get(), *entries, bootTimeNs(), all)}});
  });
  admin_.route("/api/v1/flows", [this, jsonResponse](const Query& query) {
    return jsonResponse(200, flowsJson(query));
  });
  admin_.route("/api/v1/suggest", [this, jsonResponse](const Query&) { return jsonResponse(200, suggestJson()); });
  // Long poll: the flow events after a sequence number, waiting for the first.
  admin_.route("/api/v1/events", [this, jsonResponse, errorResponse](const Query& query) {
    auto parsed = parseEventQuery(query);
    if (!parsed) return errorResponse(400, parsed.error());
    const auto not_before = parsed->since.count() ? std::chrono::system_clock::now() - parsed->since
                                                  : std::chrono::system_clock::time_point::min();
    auto batch = recent_events_.after(parsed->after, not_before, parsed->wait);
    json events = json::array();
    for (auto& event : batch.events) {
      if (parsed->matches(event)) events.push_back(std::move(event));
    }
    return jsonResponse(200, json{{"events", events}, {"next", batch.next}, {"dropped", batch.dropped}});
  });
  admin_.route("/api/v1/explain", [this, jsonResponse, errorResponse](const Query& query) {
    auto applied = state_.current();
    if (!applied) return errorResponse(503, "no policy applied yet");
    if (!query.count("workload") || !query.count("to")) return errorResponse(400, "need ?workload=NS/NAME&to=IP:PORT");
    std::string protocol = query.count("protocol") ? query.at("protocol") : "tcp";
    LearnedReader learned;
    learned.lookup = [this](const egressd_dns_learned_key& key) -> std::optional<egressd_dns_learned_value> {
      auto value = datapath_->lookupDnsLearned(key);
      return value ? *value : std::nullopt;
    };
    learned.all = [this]() {
      auto entries = datapath_->readDnsLearned();
      return entries ? *entries : std::vector<bpf::DnsLearnedEntry>{};
    };
    learned.now_ns = bootTimeNs();
    const std::string sni = query.count("sni") ? query.at("sni") : "";
    auto body = explainJson(*applied, query.at("workload"), query.at("to"), protocol, learned, sni);
    return body ? jsonResponse(200, *body) : errorResponse(400, body.error());
  });
}

}  // namespace egressd::agent

namespace egressd::agent {
namespace {

std::string sanitizeName(std::string text) {
  for (auto& c : text) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '-';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

}  // namespace

// Top talkers: flows sorted by connects, then bytes; ?workload=NS/NAME,
// ?verdict=allowed|denied|redirected|audit (flows with such decisions), ?limit=N.
json Agent::flowsJson(const std::map<std::string, std::string>& query) {
  auto flows = datapath_->readFlows();
  if (!flows) return json{{"error", flows.error()}};
  auto applied = state_.current();
  const auto learned = learnedClasses();
  const std::string want_workload = query.count("workload") ? query.at("workload") : "";
  const std::string want_verdict = query.count("verdict") ? query.at("verdict") : "";
  size_t limit = 20;
  if (query.count("limit")) limit = std::strtoul(query.at("limit").c_str(), nullptr, 10);
  std::vector<std::pair<uint64_t, json>> rows;
  for (const auto& f : *flows) {
    const auto& v = f.value;
    const std::map<std::string, uint64_t> by_verdict{{"allowed", v.connects_allowed}, {"denied", v.connects_denied},
                                                     {"redirected", v.connects_redirected}, {"audit", v.connects_audited}};
    if (!want_verdict.empty() && (!by_verdict.count(want_verdict) || by_verdict.at(want_verdict) == 0)) continue;
    const FlowLabels l = describeFlow(applied.get(), f.key.cgroup_id, f.key.addr, f.key.port, f.key.protocol,
                                      v.scope_id, learned);
    if (!want_workload.empty() && l.workload != want_workload) continue;
    const uint64_t connects = v.connects_allowed + v.connects_denied + v.connects_redirected + v.connects_audited;
    json row{{"workload", l.workload}, {"cgroup_id", f.key.cgroup_id}, {"destination_ip", l.ip},
             {"destination_port", l.port}, {"protocol", l.protocol},
             {"host", l.host ? json(*l.host) : json(nullptr)},
             {"service_entry", l.service_entry ? json(*l.service_entry) : json(nullptr)},
             {"connects", by_verdict}, {"bytes_out", v.bytes_out}, {"packets_out", v.packets_out},
             {"bytes_in", v.bytes_in}, {"packets_in", v.packets_in}, {"packets_dropped", v.packets_dropped},
             {"closes", v.closes}, {"last_reason", reasonName(static_cast<egressd_reason>(v.last_reason))}};
    timespec mono{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    const uint64_t now = uint64_t(mono.tv_sec) * 1000000000 + uint64_t(mono.tv_nsec);
    row["idle_seconds"] = v.last_seen_ns && now > v.last_seen_ns ? double(now - v.last_seen_ns) / 1e9 : 0.0;
    rows.push_back({connects * 1000000 + v.bytes_out + v.bytes_in, row});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json out = json::array();
  for (size_t i = 0; i < rows.size() && i < limit; ++i) out.push_back(rows[i].second);
  return json{{"flows", out}, {"total", rows.size()}};
}

// What audit mode saw denied, as ServiceEntries that would allow it: per
// namespace, one entry per host, with its ports: the name the workload looked
// up (an answer it got, or a learned name), else the IP/32 or /128 under an
// invented host, for destinations no name explains.
json Agent::suggestJson() {
  auto flows = datapath_->readFlows();
  if (!flows) return json{{"error", flows.error()}};
  auto applied = state_.current();
  const auto learned = learnedClasses();
  // namespace -> destination (host or ip) -> {port, protocol}
  std::map<std::string, std::map<std::pair<std::string, bool>, std::set<std::pair<uint16_t, std::string>>>> wanted;
  for (const auto& f : *flows) {
    if (!f.value.connects_audited) continue;  // audit mode's would-be denials only
    if (f.key.protocol != IPPROTO_TCP && f.key.protocol != IPPROTO_UDP) continue;
    const FlowLabels l = describeFlow(applied.get(), f.key.cgroup_id, f.key.addr, f.key.port, f.key.protocol,
                                      f.value.scope_id, learned);
    if (l.namespace_.empty()) continue;
    dns::AnswerObservations::Address address;
    std::copy(std::begin(f.key.addr), std::end(f.key.addr), address.begin());
    const auto host = l.host ? l.host : answer_observations_.nameOf(f.value.scope_id, address);
    wanted[l.namespace_][{host ? *host : l.ip, host.has_value()}].insert({l.port, l.protocol == "tcp" ? "TCP" : "UDP"});
  }
  std::string yaml;
  json entries = json::array();
  for (const auto& [ns, destinations] : wanted) {
    for (const auto& [dest, ports] : destinations) {
      const auto& [target, is_host] = dest;
      const bool v6 = target.find(':') != std::string::npos;
      const std::string name = "egressd-suggested-" + sanitizeName(target);
      std::string doc = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: " + name +
                        "\n  namespace: " + ns + "\nspec:\n  hosts:\n  - " +
                        (is_host ? target : sanitizeName(target) + ".suggested.egressd.local") + "\n";
      if (!is_host) doc += "  addresses:\n  - " + target + (v6 ? "/128" : "/32") + "\n";
      doc += "  location: MESH_EXTERNAL\n  resolution: " + std::string(is_host ? "DNS" : "NONE") + "\n  ports:\n";
      json port_list = json::array();
      for (const auto& [port, protocol] : ports) {
        doc += "  - number: " + std::to_string(port) + "\n    name: " + sanitizeName(protocol) + "-" +
               std::to_string(port) + "\n    protocol: " + protocol + "\n";
        port_list.push_back({{"number", port}, {"protocol", protocol}});
      }
      yaml += "---\n" + doc;
      entries.push_back({{"namespace", ns}, {"name", name}, {"destination", target}, {"ports", port_list}});
    }
  }
  return json{{"service_entries", entries}, {"yaml", yaml}};
}

}  // namespace egressd::agent
