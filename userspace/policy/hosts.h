#pragma once
// Name and address syntax, as Istio's validation checks it. Each check returns
// an empty string when valid, or what is wrong (without the field name).
#include <string>
#include <string_view>

namespace egressd::policy {

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars.
// Hostnames are case-insensitive, so upper case is allowed unless strict.
bool isDns1123Label(std::string_view label, bool lower_case_only = false);

// A Kubernetes namespace name (lower-case DNS-1123 label).
bool isNamespaceName(std::string_view name);

// A Kubernetes object name (lower-case DNS-1123 subdomain, at most 253 chars).
bool isObjectName(std::string_view name);

// "api.example.com", "example.com." (trailing dot), "svc" (short name).
std::string checkFqdn(std::string_view host);

// Like checkFqdn, but the first label may be exactly "*" ("*.example.com").
// Partial wildcards ("foo*.example.com", "*foo.example.com") and wildcards in
// later labels are rejected: the kernel matches whole labels only.
// With kAllowed, a partial wildcard first label ("*foo.example.com",
// Istio's "*label" prefix) passes: ServiceEntry hosts, where Istio only warns.
enum class PartialWildcards { kRejected, kAllowed };
std::string checkWildcardHost(std::string_view host, PartialWildcards partial = PartialWildcards::kRejected);

// "*foo.example.com": a first label that starts with "*" but is not "*".
bool isPartialWildcard(std::string_view host);

bool isWildcardHost(std::string_view host);  // starts with "*"

// Istio's SNI names for AUTO_PASSTHROUGH gateways, "outbound_.PORT_.SUBSET_.HOST":
// true if `host` has that form (only valid on VirtualServices bound to gateways).
bool isGeneratedSniHost(std::string_view host);

// a ⊆ b in Istio's host semantics: "*" covers everything, "*.foo.com" covers
// any deeper name (and "*.bar.foo.com"), otherwise only an equal name.
bool isHostSubset(std::string_view a, std::string_view b);

bool isIpAddress(std::string_view text);  // IPv4 or IPv6, no prefix
bool isIpOrCidr(std::string_view text);   // address, or address/prefix in range

// "unix:///path" or "unix://@abstract"; returns empty if valid.
std::string checkUnixAddress(std::string_view address);

inline constexpr std::string_view kUnixPrefix = "unix://";

}  // namespace egressd::policy
