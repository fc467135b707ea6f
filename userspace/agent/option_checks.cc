#include "agent/option_checks.h"

#include <dirent.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "compiler/address.h"
#include "policy/hosts.h"

namespace egressd::agent {
namespace {

namespace fs = std::filesystem;

// A decimal port 1-65535, or nullopt.
std::optional<uint16_t> parsePort(const std::string& text) {
  if (text.empty() || text.size() > 5 || !std::all_of(text.begin(), text.end(), ::isdigit)) return std::nullopt;
  const int port = std::stoi(text);
  if (port < 1 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

std::string why(int err) { return std::strerror(err); }

// A directory the agent will read: exists, is a directory, can be listed.
std::string checkReadableDir(const std::string& flag, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return flag + " " + path + ": " + why(errno) + " (expected a directory)";
  if (!S_ISDIR(st.st_mode)) return flag + " " + path + ": not a directory";
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return flag + " " + path + ": cannot be read: " + why(errno);
  ::closedir(dir);
  return {};
}

std::string checkReadableFile(const std::string& flag, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return flag + " " + path + ": " + why(errno) + " (expected a file)";
  if (S_ISDIR(st.st_mode)) return flag + " " + path + ": a directory, expected a file";
  if (::access(path.c_str(), R_OK) != 0) return flag + " " + path + ": cannot be read: " + why(errno);
  return {};
}

std::string checkCgroupRoot(const std::string& path) {
  if (auto problem = checkReadableDir("--cgroup-root", path); !problem.empty()) return problem;
  struct statfs sfs {};
  if (::statfs(path.c_str(), &sfs) != 0) return "--cgroup-root " + path + ": " + why(errno);
  if (sfs.f_type != CGROUP2_SUPER_MAGIC) return "--cgroup-root " + path + ": not on a cgroup v2 filesystem";
  return {};
}

std::string checkBpffs(const std::string& path) {
  if (path.empty() || path.front() != '/') return "--bpffs " + path + ": expected an absolute path";
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec)) return "--bpffs " + path + ": not a directory";
  return {};
}

std::string checkAdminAddr(const std::string& address) {
  const std::string expected = "--admin-addr " + address + ": expected HOST:PORT (e.g. 127.0.0.1:9477 or [::1]:9477)";
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return expected;
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!policy::isIpAddress(host)) return expected;
  } else if (!policy::isIpAddress(host)) {
    const bool name = std::all_of(host.begin(), host.end(), [](char c) { return std::isalnum(c) || c == '.' || c == '-'; });
    if (!name) return expected;
  }
  if (!parsePort(address.substr(colon + 1))) return expected + "; the port must be 1-65535";
  return {};
}

std::string checkAccessLog(const std::string& path) {
  if (path.empty() || path == "-") return {};
  const fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) return {};
  return checkReadableDir("--access-log (its directory)", parent.string());
}

}  // namespace

Result<compiler::DnsServer> parseDnsServerFlag(const std::string& text) {
  const auto bad = [&] { return fail("--dns-server " + text + ": expected IP, IP:PORT or [IPv6]:PORT"); };
  compiler::DnsServer server;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return bad();
    server.ip = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return bad();
      port = text.substr(close + 2);
      if (port.empty()) return bad();
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    server.ip = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
    if (port.empty()) return bad();
  } else {
    server.ip = text;
  }
  if (!policy::isIpAddress(server.ip)) return bad();
  if (!port.empty()) {
    auto number = parsePort(port);
    if (!number) return bad();
    server.port = *number;
  }
  return server;
}

Status checkAgentOptions(const AgentOptions& options) {
  std::vector<std::string> problems;
  const auto add = [&](std::string problem) {
    if (!problem.empty()) problems.push_back(std::move(problem));
  };
  if (!options.policy_dir.empty()) add(checkReadableDir("--policy-dir", options.policy_dir));
  if (!options.kubeconfig.empty()) add(checkReadableFile("--kubeconfig", options.kubeconfig));
  if (!options.cgroup_root.empty()) add(checkCgroupRoot(options.cgroup_root));
  add(checkBpffs(options.bpffs));
  add(checkAdminAddr(options.admin_addr));
  for (const auto& server : options.dns_servers) {
    if (auto parsed = parseDnsServerFlag(server); !parsed) add(parsed.error());
  }
  for (const auto& cidr : options.cluster_cidrs) {
    if (!compiler::parsePrefix(cidr)) add("--cluster-cidr " + cidr + ": expected an IPv4 or IPv6 CIDR (10.0.0.0/8)");
  }
  add(checkAccessLog(options.access_log));
  if (options.access_log_rate < 0) add("--access-log-rate must not be negative");
  if (problems.empty()) return Ok{};
  std::string text;
  for (const auto& problem : problems) text += (text.empty() ? "" : "\n") + problem;
  return fail(text);
}

}  // namespace egressd::agent
