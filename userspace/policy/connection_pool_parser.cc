// ConnectionPoolSettings: read for validation only (a connect()-time enforcer
// has no connection pool to apply them to).
#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;
constexpr uint64_t kMaxI32 = std::numeric_limits<int32_t>::max();

void readDuration(R& reader, const YAML::Node& map, const std::string& key, const std::string& field,
                  ConnectionPool& pool) {
  if (auto text = reader.string(R::child(map, key), field + "." + key)) {
    pool.durations.emplace_back(field + "." + key, *text);
  }
}

}  // namespace

ConnectionPool readConnectionPool(DocumentReader& reader, const YAML::Node& node, const std::string& field) {
  ConnectionPool pool;
  reader.warnUnknownKeys(node, field, {"tcp", "http"});
  const YAML::Node http = R::child(node, "http");
  if (reader.expectMap(http, field + ".http")) {
    pool.http = true;
    const std::string f = field + ".http";
    for (const char* key : {"http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries",
                            "maxConcurrentStreams"}) {
      reader.number(R::child(http, key), f + "." + key, kMaxI32);
    }
    readDuration(reader, http, "idleTimeout", f, pool);
    pool.h2_upgrade = reader.string(R::child(http, "h2UpgradePolicy"), f + ".h2UpgradePolicy").value_or("") == "UPGRADE";
    const YAML::Node client_protocol = R::child(http, "useClientProtocol");
    pool.use_client_protocol =
        client_protocol.IsDefined() && client_protocol.IsScalar() && client_protocol.Scalar() == "true";
    const YAML::Node keepalive = R::child(http, "http2KeepAlive");
    if (reader.expectMap(keepalive, f + ".http2KeepAlive")) {
      pool.http2_keepalive = true;
      pool.http2_keepalive_interval =
          reader.string(R::child(keepalive, "interval"), f + ".http2KeepAlive.interval").value_or("");
      pool.http2_keepalive_timeout =
          reader.string(R::child(keepalive, "timeout"), f + ".http2KeepAlive.timeout").value_or("");
    }
  }
  const YAML::Node tcp = R::child(node, "tcp");
  if (reader.expectMap(tcp, field + ".tcp")) {
    pool.tcp = true;
    const std::string f = field + ".tcp";
    reader.number(R::child(tcp, "maxConnections"), f + ".maxConnections", kMaxI32);
    readDuration(reader, tcp, "connectTimeout", f, pool);
    readDuration(reader, tcp, "maxConnectionDuration", f, pool);
    // 0s disables the idle timeout: not a duration to check.
    if (auto idle = reader.string(R::child(tcp, "idleTimeout"), f + ".idleTimeout"); idle && *idle != "0s") {
      pool.durations.emplace_back(f + ".idleTimeout", *idle);
    }
    const YAML::Node keepalive = R::child(tcp, "tcpKeepalive");
    if (reader.expectMap(keepalive, f + ".tcpKeepalive")) {
      readDuration(reader, keepalive, "time", f + ".tcpKeepalive", pool);
      readDuration(reader, keepalive, "interval", f + ".tcpKeepalive", pool);
    }
  }
  return pool;
}

}  // namespace egressd::policy
