#include "policy/hosts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <vector>

namespace egressd::policy {
namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxHost = 255;

bool isLabelChar(char c, bool lower_case_only) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  if (c == '-') return true;
  return !lower_case_only && c >= 'A' && c <= 'Z';
}

// Checks every dot-separated label of `labels` (a trailing dot is allowed).
std::string checkLabels(std::string_view host, std::string_view labels) {
  if (!labels.empty() && labels.back() == '.') labels.remove_suffix(1);
  if (labels.empty()) return "\"" + std::string(host) + "\" has an empty label";
  while (true) {
    size_t dot = labels.find('.');
    std::string_view label = labels.substr(0, dot);
    if (label.size() > kMaxLabel) {
      return "\"" + std::string(host) + "\" has a label longer than 63 characters";
    }
    if (!isDns1123Label(label)) {
      return "\"" + std::string(host) + "\" is not a valid DNS name (label \"" + std::string(label) + "\")";
    }
    if (dot == std::string_view::npos) {
      // As Istio: an all-numeric top-level label ("1.2.3.4") is no host name.
      if (label.find_first_not_of("0123456789") == std::string_view::npos) {
        return "\"" + std::string(host) + "\" is not a host name (its top-level label \"" + std::string(label) +
               "\" is all digits; an IP address is not a host)";
      }
      return {};
    }
    labels.remove_prefix(dot + 1);
  }
}

std::string checkLength(std::string_view host) {
  if (host.empty()) return "empty host name";
  if (host.size() > kMaxHost) return "host name longer than 255 characters";
  return {};
}

}  // namespace

bool isDns1123Label(std::string_view label, bool lower_case_only) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    if (!isLabelChar(c, lower_case_only)) return false;
  }
  return true;
}

bool isNamespaceName(std::string_view name) { return isDns1123Label(name, true); }

bool isObjectName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  while (true) {
    const size_t dot = name.find('.');
    if (!isDns1123Label(name.substr(0, dot), true)) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

std::string checkFqdn(std::string_view host) {
  if (auto err = checkLength(host); !err.empty()) return err;
  return checkLabels(host, host);
}

bool isPartialWildcard(std::string_view host) {
  return host.size() > 1 && host.front() == '*' && host[1] != '.';
}

std::string checkWildcardHost(std::string_view host, PartialWildcards partial) {
  if (auto err = checkLength(host); !err.empty()) return err;
  if (partial == PartialWildcards::kAllowed && isPartialWildcard(host)) {
    // Istio's wildcard prefix: "*label" or "*-label", then whole labels.
    std::string_view rest = host.substr(1);
    if (rest.front() == '-') rest.remove_prefix(1);
    if (rest.find('*') != std::string_view::npos) {
      return "\"" + std::string(host) + "\" has a wildcard outside the first label";
    }
    if (rest.empty() || rest.front() == '.') return "\"" + std::string(host) + "\" has an empty label";
    return checkLabels(host, rest);
  }
  const std::string_view first_label = host.substr(0, host.find('.'));
  if (first_label != "*" && first_label.find('*') != std::string_view::npos) {
    return "\"" + std::string(host) + "\" has a partial wildcard; only a whole first label \"*\" is allowed";
  }
  if (host.front() == '*') {
    if (host.size() == 1) return {};  // "*" alone: callers decide if it is allowed
    if (host[1] != '.') {
      return "\"" + std::string(host) + "\" has a partial wildcard; only a whole first label \"*\" is allowed";
    }
    if (host.find('*', 1) != std::string_view::npos) {
      return "\"" + std::string(host) + "\" has a wildcard outside the first label";
    }
    return checkLabels(host, host.substr(2));
  }
  if (host.find('*') != std::string_view::npos) {
    return "\"" + std::string(host) + "\" has a wildcard outside the first label";
  }
  return checkLabels(host, host);
}

bool isWildcardHost(std::string_view host) { return !host.empty() && host.front() == '*'; }

bool isGeneratedSniHost(std::string_view host) {
  if (host.rfind("outbound_", 0) != 0 || host.size() > kMaxHost) return false;
  std::vector<std::string_view> parts;  // split on '_'
  for (size_t start = 0;;) {
    const size_t cut = host.find('_', start);
    parts.push_back(host.substr(start, cut == std::string_view::npos ? std::string_view::npos : cut - start));
    if (cut == std::string_view::npos) break;
    start = cut + 1;
  }
  if (parts.size() < 4) return false;
  const auto trim = [](std::string_view v) {
    while (!v.empty() && v.front() == '.') v.remove_prefix(1);
    while (!v.empty() && v.back() == '.') v.remove_suffix(1);
    return v;
  };
  const std::string_view port = trim(parts[1]);
  const std::string_view name = trim(parts[3]);
  const bool has_digit = port.find_first_of("0123456789") != std::string_view::npos;
  const bool has_letter = std::any_of(name.begin(), name.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
  return parts[0] == "outbound" && has_digit && has_letter;
}

bool isHostSubset(std::string_view a, std::string_view b) {
  if (b == "*" || a == b) return true;
  if (b.size() > 1 && b.front() == '*') {
    const std::string_view suffix = b.substr(1);  // ".foo.com"
    return a.size() > suffix.size() && a.ends_with(suffix);
  }
  return false;
}

bool isIpAddress(std::string_view text) {
  std::string s(text);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool isIpOrCidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return isIpAddress(text);
  std::string ip(text.substr(0, slash));
  std::string_view prefix = text.substr(slash + 1);
  if (prefix.empty() || prefix.size() > 3) return false;
  int bits = -1;
  auto [ptr, ec] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), bits);
  if (ec != std::errc() || ptr != prefix.data() + prefix.size()) return false;
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return bits >= 0 && bits <= 32;
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return bits >= 0 && bits <= 128;
  return false;
}

std::string checkUnixAddress(std::string_view address) {
  std::string_view path = address.substr(kUnixPrefix.size());
  if (path.empty()) return "unix address must not be empty";
  if (path.front() == '@') return {};  // abstract socket
  if (path.front() != '/' || path.back() == '/') {
    return "\"" + std::string(path) + "\" is not an absolute path to a file";
  }
  return {};
}

}  // namespace egressd::policy
