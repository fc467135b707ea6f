#include "policy/protocols.h"

#include <cctype>
#include <string>

namespace egressd::policy {

std::optional<PortProtocol> parseProtocol(std::string_view name) {
  std::string lower;
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.empty()) return PortProtocol::kUnspecified;
  if (lower == "http" || lower == "http_proxy") return PortProtocol::kHttp;
  if (lower == "https") return PortProtocol::kHttps;
  if (lower == "grpc" || lower == "grpc-web") return PortProtocol::kGrpc;
  if (lower == "http2") return PortProtocol::kHttp2;
  if (lower == "mongo") return PortProtocol::kMongo;
  if (lower == "tcp" || lower == "redis" || lower == "mysql") return PortProtocol::kTcp;
  if (lower == "tls") return PortProtocol::kTls;
  if (lower == "udp") return PortProtocol::kUdp;
  return std::nullopt;
}

bool isHttpFamily(PortProtocol protocol) {
  return protocol == PortProtocol::kHttp || protocol == PortProtocol::kHttp2 ||
         protocol == PortProtocol::kGrpc;
}

bool isTlsFamily(PortProtocol protocol) {
  return protocol == PortProtocol::kHttps || protocol == PortProtocol::kTls;
}

bool isOpaqueProtocol(PortProtocol protocol) {
  return protocol == PortProtocol::kTcp || protocol == PortProtocol::kMongo ||
         protocol == PortProtocol::kUdp || protocol == PortProtocol::kUnspecified;
}

}  // namespace egressd::policy
