// egressctl: asks the local agent what it enforces and why.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "ctl/agent_client.h"
#include "ctl/observe.h"
#include "ctl/render.h"
#include "ctl/validate.h"

int main(int argc, char** argv) {
  using namespace egressd::ctl;
  CLI::App app{"egressctl: inspect and troubleshoot the egressd agent on this node"};
  app.require_subcommand(1);
  std::string admin_addr = std::getenv("EGRESSD_ADMIN_ADDR") ? std::getenv("EGRESSD_ADMIN_ADDR") : "127.0.0.1:9477";
  std::string output = "table";
  app.add_option("--admin-addr", admin_addr, "The agent's admin address (env EGRESSD_ADMIN_ADDR)")->capture_default_str();
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();

  auto* status = app.add_subcommand("status", "Programs, maps and their fill, policy generation, rejected objects");
  auto* workloads = app.add_subcommand(
      "workloads", "Every pod of this node (and local Workload): state, uid, cgroup, scope, mode, audit, TC backstop");
  std::string workload, to, protocol = "tcp", sni;
  auto* policy = app.add_subcommand("policy", "What a workload may reach: mode, Sidecar, imported ServiceEntries");
  policy->add_option("--workload", workload, "NAMESPACE/NAME: a pod of this node, or a local Workload")->required();
  auto* explain = app.add_subcommand("explain", "The verdict for one connection and why");
  explain->add_option("--workload", workload, "NAMESPACE/NAME: a pod of this node, or a local Workload")->required();
  explain->add_option("--to", to, "IP:PORT, [IPv6]:PORT, or HOST:PORT (the IPs learned for it)")->required();
  explain->add_option("--protocol", protocol, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}))->capture_default_str();
  explain->add_option("--sni", sni,
                      "The TLS SNI the app sends: what a sidecar routing on it would decide, and whether the kernel "
                      "(deciding on the IP) agrees");
  bool all_dns = false;
  auto* dns = app.add_subcommand("dns", "IPs learned from DNS answers, per scope: names, IP, TTL left, hits");
  dns->add_flag("--all", all_dns, "Include expired entries");
  std::string flow_workload, verdict;
  int limit = 20;
  auto* flows = app.add_subcommand("flows", "Top talkers: per workload and destination, connects by verdict, bytes");
  flows->add_option("--workload", flow_workload, "Only this NAMESPACE/NAME (a pod, or a local Workload)");
  flows->add_option("--verdict", verdict, "Only flows with such decisions")
      ->check(CLI::IsMember({"allowed", "denied", "redirected", "audit"}));
  flows->add_option("--limit", limit, "At most this many rows")->capture_default_str();
  auto* suggest = app.add_subcommand("suggest", "ServiceEntry YAML that would allow what audit mode saw denied");
  ObserveOptions observe_options;
  auto* observe_cmd = app.add_subcommand("observe", "Stream flow events live (new flows, denials, redirects, audits) "
                                                    "until Ctrl-C, like hubble observe");
  observe_cmd->add_option("--namespace", observe_options.namespace_, "Only workloads of this namespace");
  observe_cmd->add_option("--workload", observe_options.workload, "Only this NAMESPACE/NAME");
  observe_cmd->add_option("--verdict", observe_options.verdict, "Only this verdict")
      ->check(CLI::IsMember({"allowed", "denied", "redirected", "audit"}));
  observe_cmd->add_option("--host", observe_options.host_glob, "Only hosts (or IPs, where no host is known) matching this glob");
  observe_cmd->add_option("--since", observe_options.since,
                          "First the events of this long ago that the agent still holds (30s, 5m, 1h)");
  std::vector<std::string> paths;
  auto* validate = app.add_subcommand(
      "validate", "Check Istio YAML offline as the agent would (no agent needed); non-zero exit on any rejection");
  validate->add_option("paths", paths, "Files, directories, or - for stdin (e.g. kubectl get ... -o yaml)")
      ->required();
  // Each subcommand's --help ends with a real invocation.
  app.footer("Examples:\n  egressctl status\n  egressctl explain --workload production/web --to api.example.com:443\n"
             "  egressctl -o json flows --verdict denied");
  status->footer("Example: egressctl status   (egressctl -o json status for the full document)");
  workloads->footer("Example: egressctl workloads   (egressctl -o json workloads | jq '.workloads[] | select(.state != \"enforced\")')");
  policy->footer("Example: egressctl policy --workload production/web");
  explain->footer(
      "Examples:\n  egressctl explain --workload production/web --to 198.51.100.20:80\n"
      "  egressctl explain --workload production/web --to api.example.com:443 --sni api.example.com\n"
      "  egressctl explain --workload production/web --to [2001:db8::10]:53 --protocol udp");
  dns->footer("Example: egressctl dns --all   (expired entries too)");
  flows->footer("Example: egressctl flows --workload production/web --verdict denied --limit 10");
  suggest->footer("Example: egressctl suggest > policy/suggested.yaml   (review, then keep it in the policy)");
  observe_cmd->footer(
      "Examples:\n  egressctl observe --workload production/web --verdict denied\n"
      "  egressctl observe --since 5m --host '*.example.com'\n  egressctl -o json observe --namespace staging");
  validate->footer(
      "Examples:\n  egressctl validate policy/\n"
      "  kubectl get serviceentries,sidecars,virtualservices -A -o yaml | egressctl validate -");
  CLI11_PARSE(app, argc, argv);

  if (validate->parsed()) {
    const ValidateReport report = validatePaths(paths, std::cin);
    std::cout << (output == "json" ? validateJson(report).dump(2) + "\n" : renderValidate(report));
    return validateExitCode(report);
  }

  if (observe_cmd->parsed()) {
    observe_options.admin_addr = admin_addr;
    observe_options.json = output == "json";
    return observe(observe_options);
  }

  AgentClient client(admin_addr);
  Reply reply;
  Renderer render = renderStatus;
  if (status->parsed()) {
    reply = client.get("/api/v1/status", {});
    render = renderStatus;
  } else if (workloads->parsed()) {
    reply = client.get("/api/v1/workloads", {});
    render = renderWorkloads;
  } else if (policy->parsed()) {
    reply = client.get("/api/v1/policy", {{"workload", workload}});
    render = renderPolicy;
  } else if (dns->parsed()) {
    reply = client.get("/api/v1/dns", all_dns ? std::map<std::string, std::string>{{"all", "1"}}
                                              : std::map<std::string, std::string>{});
    render = renderDns;
  } else if (flows->parsed()) {
    std::map<std::string, std::string> query{{"limit", std::to_string(limit)}};
    if (!flow_workload.empty()) query["workload"] = flow_workload;
    if (!verdict.empty()) query["verdict"] = verdict;
    reply = client.get("/api/v1/flows", query);
    render = renderFlows;
  } else if (suggest->parsed()) {
    reply = client.get("/api/v1/suggest", {});
    render = renderSuggest;
  } else if (explain->parsed()) {
    std::map<std::string, std::string> query{{"workload", workload}, {"to", to}, {"protocol", protocol}};
    if (!sni.empty()) query["sni"] = sni;
    reply = client.get("/api/v1/explain", query);
    render = renderExplain;
  }
  if (!reply.error.empty()) {
    std::cerr << "egressctl: " << reply.error << "\n";
    return 1;
  }
  std::cout << (output == "json" ? reply.body.dump(2) + "\n" : render(reply.body));
  return 0;
}
