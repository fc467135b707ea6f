#include "ctl/render.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace egressd::ctl {
namespace {

using nlohmann::json;
using Row = std::vector<std::string>;

std::string text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

std::string join(const json& list, const std::string& sep = ",") {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : sep) + text(item);
  return out.empty() ? "-" : out;
}

// Left-aligned columns, two spaces apart.
std::string table(const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::ostringstream out;
  auto print = [&](const Row& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << "\n";
  };
  print(header);
  for (const auto& row : rows) print(row);
  return out.str();
}

}  // namespace

std::string renderStatus(const json& s) {
  std::ostringstream out;
  out << "ready: " << (s.value("ready", false) ? "yes" : "no") << "   generation: " << text(s.value("generation", json()))
      << "   last sync: " << (s.contains("sync_seconds") ? std::to_string(s["sync_seconds"].get<double>() * 1e3) + " ms" : "-")
      << "   datapath: " << (s.value("adopted", false) ? "adopted from a previous agent" : "attached by this agent")
      << "\n\n";
  std::vector<Row> programs;
  for (const auto& p : s["programs"]) {
    programs.push_back({text(p["name"]), text(p["id"]), text(p["attach"]), text(p["verified_insns"])});
  }
  out << table({"PROGRAM", "ID", "ATTACHED TO", "VERIFIED INSNS"}, programs) << "\n";
  std::vector<Row> maps;
  for (const auto& m : s["maps"]) {
    double fill = m["capacity"].get<double>() > 0 ? 100.0 * m["entries"].get<double>() / m["capacity"].get<double>() : 0;
    std::ostringstream pct;
    pct.precision(1);
    pct << std::fixed << fill << "%";
    maps.push_back({text(m["name"]), text(m["entries"]), text(m["capacity"]), pct.str()});
  }
  out << table({"MAP", "ENTRIES", "CAPACITY", "FILL"}, maps);
  if (s.contains("tc_interfaces")) {
    out << "\nTC backstop (" << text(s.value("tc_mode", json("auto"))) << "):";
    std::vector<Row> tc;
    for (const auto& t : s["tc_interfaces"]) {
      const bool pending = t.contains("pending");
      tc.push_back({text(t["workload"]), pending ? "-" : text(t["interface"]), pending ? "-" : text(t["ifindex"]),
                    pending ? "pending: " + text(t["pending"]) : text(t["mode"])});
    }
    out << (tc.empty() ? " no workload interfaces\n" : "\n" + table({"WORKLOAD", "INTERFACE", "IFINDEX", "STATE"}, tc));
  }
  if (s.contains("workloads")) {
    out << "\nworkloads enforced: " << text(s["workloads"]["enforced"]) << "   scopes: " << text(s["scopes"]) << "\n";
    for (const auto& [name, why] : s["workloads"]["unresolved"].items()) {
      out << "  not enforced: " << name << ": " << text(why) << "\n";
    }
  }
  if (s.contains("rejected") && !s["rejected"].empty()) {
    out << "\nrejected objects:\n";
    std::vector<Row> rows;
    for (const auto& r : s["rejected"]) {
      rows.push_back({text(r["kind"]), text(r["namespace"]) + "/" + text(r["name"]), text(r["source"]), text(r["reason"])});
    }
    out << table({"KIND", "NAME", "SOURCE", "REASON"}, rows);
  }
  if (s.contains("not_enforced") && !s["not_enforced"].empty()) {
    out << "\nnot enforced, no room in the maps (older objects keep their place; docs/LIMITS.md):\n";
    std::vector<Row> rows;
    for (const auto& n : s["not_enforced"])
      rows.push_back({text(n["kind"]), text(n["name"]), text(n["map"]), text(n["capacity"]), text(n["effect"])});
    out << table({"KIND", "NAME", "MAP", "CAPACITY", "EFFECT"}, rows);
  }
  return out.str();
}

// One row per pod (or local Workload) and per unknown pod cgroup; the TC
// column says where the backstop is, or why there is none.
std::string renderWorkloads(const json& body) {
  std::vector<Row> rows;
  for (const auto& w : body["workloads"]) {
    std::string state = text(w["state"]);
    if (w.contains("reason") && !w["reason"].is_null() && state != "waiting for its cgroup" && state != "unknown cgroup")
      state += ": " + text(w["reason"]);
    std::string tc = "-";
    if (w["tc"].is_object()) {
      const auto& t = w["tc"];
      tc = !t["interface"].is_null() ? text(t["interface"]) + " (" + text(t["mode"]) + ")"
           : !t["none"].is_null()    ? "none: " + text(t["none"])
           : !t["pending"].is_null() ? "pending: " + text(t["pending"])
                                     : "-";
    }
    std::string audit = w["audit"].is_null() ? "-" : (w["audit"].get<bool>() ? "on" : "off");
    rows.push_back({w["workload"].is_null() ? "-" : text(w["workload"]), text(w["uid"]), state, text(w["scope"]),
                    text(w["mode"]), audit, tc, text(w["cgroup"])});
  }
  if (rows.empty()) return "no workloads\n";
  return table({"WORKLOAD", "UID", "STATE", "SCOPE", "MODE", "AUDIT", "TC", "CGROUP"}, rows);
}

std::string renderPolicy(const json& p) {
  std::ostringstream out;
  out << "workload: " << text(p["workload"]) << " (cgroup " << text(p["cgroup_id"]) << ")\n"
      << "mode:     " << text(p["mode"]) << "\n"
      << "audit:    " << (p.value("audit", false) ? "on" : "off")
      << (p.contains("audit_source") && !p["audit_source"].is_null() ? " (" + text(p["audit_source"]) + ")" : "")
      << "\n"
      << "sidecar:  " << (p["sidecar"].is_null() ? "none (mesh defaults)" : text(p["sidecar"])) << "\n"
      << "scope:    " << text(p["scope"]) << " (id " << text(p["scope_id"]) << ")\n\n";
  std::vector<Row> rows;
  for (const auto& se : p["service_entries"]) {
    std::string ports;
    for (const auto& port : se["ports"]) {
      ports += (ports.empty() ? "" : ",") + text(port["number"]) + "/" + text(port["protocol"]);
    }
    rows.push_back({text(se["name"]), join(se["hosts"]), join(se["addresses"]), ports.empty() ? "-" : ports, text(se["source"])});
  }
  out << table({"SERVICEENTRY", "HOSTS", "ADDRESSES", "PORTS", "SOURCE"}, rows);
  if (p.value("egress_gateway", false)) out << "\negress gateway: exempt from outboundTrafficPolicy, never redirected\n";
  std::vector<Row> routes;
  for (const auto& r : p.value("gateway_routes", json::array())) {
    std::string notes;
    for (const auto& u : r["unsupported"]) notes += (notes.empty() ? "" : "; ") + text(u);
    routes.push_back({text(r["host"]) + ":" + text(r["port"]),
                      text(r["gateway"]) + " " + join(r["gateway_addresses"]) + ":" + text(r["gateway_port"]),
                      text(r["virtual_service"]), notes.empty() ? "-" : notes});
  }
  if (!routes.empty()) out << "\n" << table({"GATEWAY ROUTE", "VIA", "VIRTUALSERVICE", "UNSUPPORTED"}, routes);
  for (const auto& i : p.value("gateway_issues", json::array())) out << "gateway routing: " << text(i) << "\n";
  return out.str();
}

std::string renderExplain(const json& e) {
  std::ostringstream out;
  out << text(e["workload"]) << " -> " << text(e["destination"]) << "/" << text(e["protocol"]) << ": "
      << text(e["verdict"]) << "\n"
      << "  reason:        " << text(e["reason"]) << "\n"
      << "  serviceentry:  " << text(e["service_entry"]) << "\n"
      << "  scope:         " << text(e["scope"]) << "\n"
      << "  detail:        " << text(e["detail"]) << "\n";
  if (e.contains("learned") && e["learned"].is_object()) {
    const auto& l = e["learned"];
    out << "  dns learned:   " << join(l["hosts"]) << ", "
        << (l.value("expired", false) ? "expired " + std::to_string(-l["expires_in_seconds"].get<int64_t>()) + "s ago"
                                      : "expires in " + text(l["expires_in_seconds"]) + "s")
        << (l.value("decided", false) ? " (decided)" : "") << "\n";
  }
  if (e.contains("learned_ips")) {
    std::vector<Row> rows;
    for (const auto& ip : e["learned_ips"]) {
      const auto& l = ip["learned"];
      rows.push_back({text(ip["ip"]), text(ip["verdict"]), text(ip["reason"]), text(ip["service_entry"]),
                      l.is_object() ? join(l["hosts"]) : "-",
                      l.is_object() ? text(l["expires_in_seconds"]) + "s" : "-"});
    }
    if (!rows.empty()) out << "\n" << table({"LEARNED IP", "VERDICT", "REASON", "SERVICEENTRY", "HOSTS", "TTL"}, rows);
  }
  if (e.contains("sni") && e["sni"].is_object()) {
    const auto& s = e["sni"];
    out << "  sni:           " << text(s["name"]);
    if (s.contains("sidecar_verdict")) {
      out << ": a sidecar would say " << text(s["sidecar_verdict"])
          << (s.value("agrees", false) ? " (agrees)" : " (DIFFERS from the kernel)");
    }
    out << "\n  sni detail:    " << text(s["detail"]) << "\n";
  }
  return out.str();
}

std::string renderDns(const json& d) {
  std::vector<Row> rows;
  for (const auto& e : d["entries"]) {
    rows.push_back({text(e["scope"]), join(e["names"]), text(e["ip"]), text(e["ttl_seconds"]) + "s", text(e["hits"])});
  }
  if (rows.empty()) return "no learned IPs\n";
  return table({"SCOPE", "NAMES", "IP", "TTL", "HITS"}, rows);
}

std::string renderFlows(const json& body) {
  std::vector<Row> rows;
  for (const auto& f : body["flows"]) {
    const auto& c = f["connects"];
    rows.push_back({text(f["workload"]), text(f["destination_ip"]) + ":" + text(f["destination_port"]),
                    text(f["protocol"]), text(f["host"]), text(c["allowed"]), text(c["denied"]),
                    text(c["redirected"]), text(c["audit"]), text(f["bytes_out"]), text(f["bytes_in"]),
                    text(f["packets_dropped"]), text(f["last_reason"])});
  }
  return table({"WORKLOAD", "DESTINATION", "PROTO", "HOST", "ALLOWED", "DENIED", "REDIRECTED", "AUDIT", "BYTES OUT",
                "BYTES IN", "DROPPED", "LAST REASON"},
               rows) +
         (body.value("total", 0) > static_cast<int>(rows.size())
              ? std::to_string(body.value("total", 0) - static_cast<int>(rows.size())) + " more (--limit)\n"
              : "");
}

// "TIME  WORKLOAD -> IP:PORT/PROTO  VERDICT (REASON)  host=H  serviceentry=SE"
std::string renderEvent(const json& e) {
  std::string out = text(e["time"]) + "  " + text(e["workload"]) + " -> " + text(e["destination_ip"]) + ":" +
                    text(e["destination_port"]) + "/" + text(e["protocol"]) + "  " + text(e["verdict"]) + " (" +
                    text(e["reason"]) + ")";
  if (!e["host"].is_null()) out += "  host=" + text(e["host"]);
  if (!e["service_entry"].is_null()) out += "  serviceentry=" + text(e["service_entry"]);
  if (e.value("source", "") == "packet") out += "  (packet backstop)";
  return out;
}

std::string renderSuggest(const json& body) {
  const std::string yaml = body.value("yaml", "");
  return yaml.empty() ? "# nothing to suggest: audit mode saw no denied connection\n" : yaml;
}

}  // namespace egressd::ctl
