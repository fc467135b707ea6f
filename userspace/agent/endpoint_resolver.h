#pragma once
// Resolves the hostname endpoints of DNS / DNS_ROUND_ROBIN ServiceEntries on
// a background thread, as Envoy's DNS clusters do, so their IPs stay allowed.
// getaddrinfo() does not expose TTLs: every name is refreshed every 30 s
// (and at once when the set of names changes). A failed lookup keeps the
// last good addresses (as Envoy does), so a resolver hiccup doesn't cut traffic.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace egressd::agent {

class EndpointResolver {
 public:
  using Addresses = std::map<std::string, std::vector<std::string>>;

  explicit EndpointResolver(std::chrono::seconds refresh = std::chrono::seconds(30));
  ~EndpointResolver();

  // The names to keep resolved (from the policy in force).
  void setNames(const std::vector<std::string>& names);
  Addresses addresses() const;
  // True once after the addresses changed: the caller recompiles.
  bool takeChanged() { return changed_.exchange(false); }

 private:
  void loop();

  std::chrono::seconds refresh_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::string> names_;
  Addresses addresses_;
  bool names_changed_ = false;
  bool stop_ = false;
  std::atomic<bool> changed_{false};
  std::thread thread_;
};

}  // namespace egressd::agent
