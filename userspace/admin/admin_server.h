#pragma once
// The agent's HTTP endpoint: /metrics, /readyz, /healthz and the JSON API
// egressctl uses. Routes are plain functions; the server knows nothing of policy.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace httplib {
class Server;
}

namespace egressd::admin {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Query = std::map<std::string, std::string>;
using Route = std::function<Response(const Query&)>;

class AdminServer {
 public:
  AdminServer();
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  void route(const std::string& path, Route handler);
  // Binds `host:port` (so a taken port is an error at start-up, before the
  // agent touches the kernel); serve() then answers on a background thread.
  Status bind(const std::string& address);
  void serve();
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace egressd::admin
