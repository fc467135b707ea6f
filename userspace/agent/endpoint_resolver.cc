#include "agent/endpoint_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

namespace egressd::agent {
namespace {

// Sorted, deduplicated; empty if the name does not resolve.
std::vector<std::string> resolve(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (int rc = getaddrinfo(name.c_str(), nullptr, &hints, &result); rc != 0) {
    spdlog::warn("endpoint {}: {}", name, gai_strerror(rc));
    return {};
  }
  std::set<std::string> out;
  for (auto* ai = result; ai; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {};
    const void* addr = ai->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, addr, buf, sizeof(buf))) out.insert(buf);
  }
  freeaddrinfo(result);
  return {out.begin(), out.end()};
}

}  // namespace

EndpointResolver::EndpointResolver(std::chrono::seconds refresh) : refresh_(refresh) {
  thread_ = std::thread([this] { loop(); });
}

EndpointResolver::~EndpointResolver() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void EndpointResolver::setNames(const std::vector<std::string>& names) {
  {
    std::lock_guard lock(mutex_);
    if (names == names_) return;
    names_ = names;
    names_changed_ = true;
  }
  wake_.notify_all();
}

EndpointResolver::Addresses EndpointResolver::addresses() const {
  std::lock_guard lock(mutex_);
  return addresses_;
}

void EndpointResolver::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, refresh_, [this] { return stop_ || names_changed_; });
    if (stop_) break;
    names_changed_ = false;
    const auto names = names_;
    lock.unlock();  // lookups may block for seconds
    Addresses fresh;
    for (const auto& name : names) fresh[name] = resolve(name);
    lock.lock();
    Addresses next;
    for (const auto& name : names_) {
      auto it = fresh.find(name);
      if (it != fresh.end() && !it->second.empty()) {
        next[name] = it->second;
      } else if (auto old = addresses_.find(name); old != addresses_.end()) {
        next[name] = old->second;  // keep the last good answer
      }
    }
    if (next != addresses_) {
      addresses_ = std::move(next);
      changed_ = true;
    }
  }
}

}  // namespace egressd::agent
