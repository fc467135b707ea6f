#pragma once
// egressctl's side of the admin API: GET a JSON document, or a clear error.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace egressd::ctl {

struct Reply {
  nlohmann::json body;
  std::string error;  // empty on success
};

class AgentClient {
 public:
  explicit AgentClient(std::string admin_addr) : admin_addr_(std::move(admin_addr)) {}
  Reply get(const std::string& path, const std::map<std::string, std::string>& query) const;

 private:
  std::string admin_addr_;
};

}  // namespace egressd::ctl
