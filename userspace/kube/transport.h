#pragma once
// HTTP GETs against the API server, behind an interface so the reflector's
// tests can script answers (fake_transport in the tests); CurlTransport is
// the real one.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace egressd::kube {

struct Request {
  std::string path;  // "/api/v1/namespaces"
  std::vector<std::pair<std::string, std::string>> query;
  // Whole-request limit; zero for none (a watch ends by its timeoutSeconds,
  // the reflector's watchdog, or cancellation).
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

struct Response {
  long status = 0;
  std::string body;  // a watch's body only when it was not a 200
};

// Asked at least once a second while a request runs; true aborts it.
using CancelCheck = std::function<bool()>;
using LineHandler = std::function<void(std::string_view line)>;

class Transport {
 public:
  virtual ~Transport() = default;
  // An error is a request that got no HTTP answer (refused, TLS, timeout, cancelled).
  virtual Result<Response> get(const Request& request, const CancelCheck& cancelled) = 0;
  // A 200 answer is handed over line by line as it arrives (watch events);
  // any other status is collected into Response.body like get().
  virtual Result<Response> stream(const Request& request, const LineHandler& on_line, const CancelCheck& cancelled) = 0;
};

}  // namespace egressd::kube
