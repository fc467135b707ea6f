#pragma once
// Istio port protocol names (case-insensitive, as Istio's protocol.Parse).
#include <optional>
#include <string_view>

#include "policy/model.h"

namespace egressd::policy {

// nullopt for a name Istio does not know. "" is kUnspecified (sniffed).
// Istio's GRPC-Web and HTTP_PROXY map to kGrpc / kHttp; Redis and MySQL
// to kTcp: for a connect()-time enforcer they behave the same.
std::optional<PortProtocol> parseProtocol(std::string_view name);

bool isHttpFamily(PortProtocol protocol);  // host known from the Host header
bool isTlsFamily(PortProtocol protocol);   // host known from SNI
// No host name on the wire: a port with no addresses matches any IP.
bool isOpaqueProtocol(PortProtocol protocol);

inline constexpr std::string_view kKnownProtocols =
    "HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, HTTP_PROXY, MONGO, REDIS, MYSQL, TCP, TLS, UDP";

}  // namespace egressd::policy
