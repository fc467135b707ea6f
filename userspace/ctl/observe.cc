#include "ctl/observe.h"

#include <cctype>
#include <csignal>
#include <iostream>
#include <map>

#include "ctl/agent_client.h"
#include "ctl/render.h"

namespace egressd::ctl {
namespace {

volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

}  // namespace

Result<long> parseDuration(const std::string& text) {
  const auto bad = [&] { return fail("--since " + text + ": expected a duration such as 30s, 5m or 1h"); };
  if (text.empty()) return bad();
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 9) return bad();
  const long n = std::stol(text.substr(0, digits));
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  return bad();
}

int observe(const ObserveOptions& options) {
  std::map<std::string, std::string> query{{"wait_ms", "500"}};
  if (!options.namespace_.empty()) query["namespace"] = options.namespace_;
  if (!options.workload.empty()) query["workload"] = options.workload;
  if (!options.verdict.empty()) query["verdict"] = options.verdict;
  if (!options.host_glob.empty()) query["host"] = options.host_glob;
  bool first = true;
  if (!options.since.empty()) {
    auto seconds = parseDuration(options.since);
    if (!seconds) {
      std::cerr << "egressctl: " << seconds.error() << "\n";
      return 2;
    }
    query["after"] = "0";
    query["since"] = std::to_string(*seconds);
  } else {
    query["after"] = "latest";
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  AgentClient client(options.admin_addr);
  while (!g_stop) {
    Reply reply = client.get("/api/v1/events", query);
    if (g_stop) break;
    if (!reply.error.empty()) {
      std::cerr << "egressctl: " << reply.error << "\n";
      return 1;
    }
    const uint64_t dropped = reply.body.value("dropped", uint64_t{0});
    if (!first && dropped)
      std::cerr << "# " << dropped << " events went by faster than they were read (the agent keeps the last 10000)\n";
    for (const auto& event : reply.body["events"]) std::cout << (options.json ? event.dump() : renderEvent(event)) << "\n";
    std::cout.flush();
    query["after"] = std::to_string(reply.body.value("next", uint64_t{0}));
    query.erase("since");
    first = false;
  }
  return 0;
}

}  // namespace egressd::ctl
