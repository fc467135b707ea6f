#include "admin/admin_server.h"

#include <httplib.h>

namespace egressd::admin {

AdminServer::AdminServer() : server_(std::make_unique<httplib::Server>()) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::route(const std::string& path, Route handler) {
  server_->Get(path, [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    Query query;
    for (const auto& [key, value] : req.params) query[key] = value;
    Response out = handler(query);
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  });
}

Status AdminServer::bind(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return fail("--admin-addr " + address + ": expected HOST:PORT");
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return fail("--admin-addr " + address + ": port is not a number");
  }
  if (!server_->bind_to_port(host.c_str(), port)) {
    return fail("--admin-addr " + address + ": cannot listen (address in use or invalid)");
  }
  return Ok{};
}

void AdminServer::serve() {
  if (!thread_.joinable()) thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void AdminServer::stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

}  // namespace egressd::admin
