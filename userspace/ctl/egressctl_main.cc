// egressctl: asks the local agent what it enforces and why.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "ctl/agent_client.h"
#include "ctl/render.h"

int main(int argc, char** argv) {
  using namespace egressd::ctl;
  CLI::App app{"egressctl: inspect and troubleshoot the egressd agent on this node"};
  app.require_subcommand(1);
  std::string admin_addr = std::getenv("EGRESSD_ADMIN_ADDR") ? std::getenv("EGRESSD_ADMIN_ADDR") : "127.0.0.1:9477";
  std::string output = "table";
  app.add_option("--admin-addr", admin_addr, "The agent's admin address (env EGRESSD_ADMIN_ADDR)")->capture_default_str();
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();

  auto* status = app.add_subcommand("status", "Programs, maps and their fill, policy generation, rejected objects");
  std::string workload, to, protocol = "tcp";
  auto* policy = app.add_subcommand("policy", "What a workload may reach: mode, Sidecar, imported ServiceEntries");
  policy->add_option("--workload", workload, "NAMESPACE/NAME")->required();
  auto* explain = app.add_subcommand("explain", "The verdict for one connection and why");
  explain->add_option("--workload", workload, "NAMESPACE/NAME")->required();
  explain->add_option("--to", to, "IP:PORT or [IPv6]:PORT")->required();
  explain->add_option("--protocol", protocol, "tcp or udp")->check(CLI::IsMember({"tcp", "udp"}))->capture_default_str();
  bool all_dns = false;
  auto* dns = app.add_subcommand("dns", "IPs learned from DNS answers, per scope: names, IP, TTL left, hits");
  dns->add_flag("--all", all_dns, "Include expired entries");
  CLI11_PARSE(app, argc, argv);

  AgentClient client(admin_addr);
  Reply reply;
  Renderer render = renderStatus;
  if (status->parsed()) {
    reply = client.get("/api/v1/status", {});
    render = renderStatus;
  } else if (policy->parsed()) {
    reply = client.get("/api/v1/policy", {{"workload", workload}});
    render = renderPolicy;
  } else if (dns->parsed()) {
    reply = client.get("/api/v1/dns", all_dns ? std::map<std::string, std::string>{{"all", "1"}}
                                              : std::map<std::string, std::string>{});
    render = renderDns;
  } else if (explain->parsed()) {
    reply = client.get("/api/v1/explain", {{"workload", workload}, {"to", to}, {"protocol", protocol}});
    render = renderExplain;
  }
  if (!reply.error.empty()) {
    std::cerr << "egressctl: " << reply.error << "\n";
    return 1;
  }
  std::cout << (output == "json" ? reply.body.dump(2) + "\n" : render(reply.body));
  return 0;
}
