#include "common/abi_names.h"

#include <netinet/in.h>

namespace egressd {

std::string_view verdictName(egressd_verdict verdict) {
  switch (verdict) {
    case EGRESSD_VERDICT_ALLOWED: return "allowed";
    case EGRESSD_VERDICT_DENIED: return "denied";
    case EGRESSD_VERDICT_REDIRECTED: return "redirected";
    case EGRESSD_VERDICT_AUDIT: return "audit";
    case EGRESSD_VERDICT_COUNT: break;
  }
  return "unknown";
}

std::string_view reasonName(egressd_reason reason) {
  switch (reason) {
    case EGRESSD_REASON_NOT_WORKLOAD: return "not_workload";
    case EGRESSD_REASON_LOOPBACK: return "loopback";
    case EGRESSD_REASON_ALWAYS_ALLOWED: return "always_allowed";
    case EGRESSD_REASON_REGISTRY_MATCH: return "registry_match";
    case EGRESSD_REASON_ALLOW_ANY: return "allow_any";
    case EGRESSD_REASON_NOT_IN_REGISTRY: return "not_in_registry";
    case EGRESSD_REASON_UNKNOWN_SCOPE: return "unknown_scope";
    case EGRESSD_REASON_DNS_LEARNED: return "dns_learned";
    case EGRESSD_REASON_GATEWAY_ROUTE: return "gateway_route";
    case EGRESSD_REASON_GATEWAY_WORKLOAD: return "gateway_workload";
    case EGRESSD_REASON_INBOUND_REPLY: return "inbound_reply";
    case EGRESSD_REASON_UNKNOWN_WORKLOAD: return "unknown_workload";
    case EGRESSD_REASON_BACKSTOP_PENDING: return "backstop_pending";
    case EGRESSD_REASON_MALFORMED_PACKET: return "malformed_packet";
    case EGRESSD_REASON_SPOOFED_ADDRESS: return "spoofed_address";
    case EGRESSD_REASON_HAIRPIN: return "hairpin";
    case EGRESSD_REASON_COUNT: break;
  }
  return "unknown";
}

std::string_view dnsCounterName(egressd_dns_counter counter) {
  switch (counter) {
    case EGRESSD_DNS_QUERIES: return "queries";
    case EGRESSD_DNS_ANSWERS_LEARNED: return "answers_learned";
    case EGRESSD_DNS_IPS_LEARNED: return "ips_learned";
    case EGRESSD_DNS_NEW_ENTRIES: return "new_entries";
    case EGRESSD_DNS_REJECTED_UNTRUSTED: return "untrusted";
    case EGRESSD_DNS_REJECTED_NO_QUERY: return "no_query";
    case EGRESSD_DNS_NOT_ALLOWED_NAME: return "name_not_allowed";
    case EGRESSD_DNS_PUNTED: return "punted";
    case EGRESSD_DNS_PUNT_DROPPED: return "punt_dropped";
    case EGRESSD_DNS_MALFORMED: return "malformed";
    case EGRESSD_DNS_NO_ADDRESS: return "no_address";
    case EGRESSD_DNS_SPOOFED: return "spoofed";
    case EGRESSD_DNS_COUNTER_COUNT: break;
  }
  return "unknown";
}

std::string_view hookName(egressd_hook hook) {
  switch (hook) {
    case EGRESSD_HOOK_CONNECT4: return "connect4";
    case EGRESSD_HOOK_CONNECT6: return "connect6";
    case EGRESSD_HOOK_SENDMSG4: return "sendmsg4";
    case EGRESSD_HOOK_SENDMSG6: return "sendmsg6";
    case EGRESSD_HOOK_SOCK_CREATE: return "sock_create";
    case EGRESSD_HOOK_COUNT: break;
  }
  return "unknown";
}

std::string_view protocolName(uint8_t l4_protocol) {
  switch (l4_protocol) {
    case IPPROTO_TCP: return "tcp";
    case IPPROTO_UDP: return "udp";
    default: return "other";
  }
}

}  // namespace egressd
