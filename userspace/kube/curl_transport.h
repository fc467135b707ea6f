#pragma once
// Transport over libcurl: TLS as the ClusterConfig says (CA, client
// certificate, or no verification), the bearer token on every request (read
// again after a 401), TCP keepalive, and cancellation through the progress
// callback.
#include "kube/config.h"
#include "kube/transport.h"

namespace egressd::kube {

class CurlTransport : public Transport {
 public:
  explicit CurlTransport(ClusterConfig config);
  Result<Response> get(const Request& request, const CancelCheck& cancelled) override;
  Result<Response> stream(const Request& request, const LineHandler& on_line, const CancelCheck& cancelled) override;

  std::string url(const Request& request) const;

 private:
  Result<Response> perform(const Request& request, const LineHandler* on_line, const CancelCheck& cancelled);

  ClusterConfig config_;
};

}  // namespace egressd::kube
