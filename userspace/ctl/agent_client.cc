#include "ctl/agent_client.h"

#include <httplib.h>

namespace egressd::ctl {

Reply AgentClient::get(const std::string& path, const std::map<std::string, std::string>& query) const {
  httplib::Client client("http://" + admin_addr_);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  httplib::Params params(query.begin(), query.end());
  auto result = client.Get(path, params, httplib::Headers{});
  if (!result) {
    return {{}, "cannot reach the egressd agent at " + admin_addr_ + " (" + httplib::to_string(result.error()) +
                    "); is it running? Set --admin-addr or EGRESSD_ADMIN_ADDR"};
  }
  auto body = nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return {{}, "the agent answered " + std::to_string(result->status) + " with a non-JSON body"};
  if (result->status != 200) {
    return {{}, body.contains("error") ? body["error"].get<std::string>() : "agent answered " + std::to_string(result->status)};
  }
  return {body, ""};
}

}  // namespace egressd::ctl
