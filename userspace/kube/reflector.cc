#include "kube/reflector.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

namespace egressd::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

// The message of a Status body, or the body's start when it is not one.
std::string statusMessage(const std::string& body) {
  const json status = json::parse(body, nullptr, false);
  if (status.is_object() && status.contains("message") && status["message"].is_string()) {
    std::string reason = status.value("reason", "");
    return (reason.empty() ? "" : reason + ": ") + status["message"].get<std::string>();
  }
  return body.substr(0, 200);
}

std::string stringAt(const json& object, const char* a, const char* b) {
  if (!object.is_object() || !object.contains(a) || !object[a].is_object()) return {};
  const json& inner = object[a];
  if (!inner.contains(b) || !inner[b].is_string()) return {};
  return inner[b].get<std::string>();
}

}  // namespace

std::string errorReason(long status) {
  switch (status) {
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 410: return "gone";
    case 429: return "too_many_requests";
    default: return status >= 500 ? "server_error" : "http_" + std::to_string(status);
  }
}

Reflector::Reflector(Transport& transport, ResourceSpec spec, ReflectorOptions options, Callbacks callbacks,
                     ReflectorEnv env)
    : transport_(transport),
      spec_(std::move(spec)),
      options_(options),
      callbacks_(std::move(callbacks)),
      env_(std::move(env)) {
  if (!env_.now) env_.now = [] { return ReflectorEnv::Clock::now(); };
  if (!env_.random) {
    auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
    env_.random = [engine] { return std::uniform_real_distribution<double>(0, 1)(*engine); };
  }
}

void Reflector::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
}

void Reflector::sleepFor(milliseconds duration) {
  if (env_.sleep) {
    env_.sleep(duration);
    return;
  }
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock, duration, [this] { return stop_.load(); });
}

ObjectMap Reflector::objects() const {
  std::lock_guard lock(mutex_);
  return cache_;
}

size_t Reflector::size() const {
  std::lock_guard lock(mutex_);
  return cache_.size();
}

std::string Reflector::resourceVersion() const {
  std::lock_guard lock(mutex_);
  return resource_version_;
}

std::string Reflector::keyOf(const std::string& ns, const std::string& name) const {
  return ns.empty() ? name : ns + "/" + name;
}

void Reflector::notifyChanged() {
  if (callbacks_.changed) callbacks_.changed();
}

void Reflector::backoff() {
  if (stop_) return;
  // client-go: 800 ms doubling up to 30 s, then jittered by a factor in [1, 2).
  const double base = static_cast<double>(options_.backoff_initial.count()) * static_cast<double>(1ULL << std::min(backoff_step_, 20));
  const double capped = std::min(base, static_cast<double>(options_.backoff_max.count()));
  ++backoff_step_;
  sleepFor(milliseconds(static_cast<int64_t>(capped * (1.0 + env_.random()))));
}

void Reflector::run() {
  while (!stop_) {
    if (need_list_) {
      const ListOutcome listed = list();
      if (listed == ListOutcome::kFailed) {
        backoff();
        continue;
      }
      if (listed == ListOutcome::kAbsent) {
        sleepFor(options_.absent_retry);
        continue;
      }
    }
    const auto started = env_.now();
    switch (watch()) {
      case WatchOutcome::kGone:
        need_list_ = true;  // relist at once: the server said our version is too old
        break;
      case WatchOutcome::kEnded:
        // A watch the server ends at once, again and again, must not spin.
        if (env_.now() - started < options_.short_watch) {
          backoff();
        } else {
          resetBackoff();
        }
        break;
      case WatchOutcome::kFailed:
        backoff();
        break;
    }
  }
}

Reflector::ListOutcome Reflector::list() {
  ObjectMap fresh;
  std::string continue_token;
  std::string version;
  bool restarted = false;
  while (true) {
    Request request{spec_.path, spec_.selectors};
    request.query.emplace_back("limit", std::to_string(options_.page_size));
    if (!continue_token.empty()) request.query.emplace_back("continue", continue_token);
    ++lists_;
    auto response = transport_.get(request, [this] { return stop_.load(); });
    if (stop_) return ListOutcome::kFailed;
    if (!response) {
      transportError("list", response.error());
      return ListOutcome::kFailed;
    }
    if (response->status == 410 && !continue_token.empty() && !restarted) {
      // The continue token expired between pages: list again from the start.
      if (callbacks_.error) callbacks_.error("gone");
      spdlog::info("kube {}: list continuation expired; listing again from the start", spec_.name);
      fresh.clear();
      continue_token.clear();
      restarted = true;
      continue;
    }
    if (response->status == 404) {
      // The collection is not served (a CRD not installed, or removed): an empty set.
      recovered();
      if (!synced_ || !objects().empty()) {
        spdlog::info("kube {}: {} is not served; treated as empty", spec_.name, spec_.path);
        {
          std::lock_guard lock(mutex_);
          cache_.clear();
          resource_version_.clear();
        }
        synced_ = true;
        notifyChanged();
      }
      if (callbacks_.in_sync) callbacks_.in_sync();
      return ListOutcome::kAbsent;
    }
    if (response->status != 200) {
      httpError("list", *response);
      return ListOutcome::kFailed;
    }
    json page = json::parse(response->body, nullptr, false);
    if (!page.is_object() || !page.contains("items") || !page["items"].is_array()) {
      if (callbacks_.error) callbacks_.error("decode");
      spdlog::error("kube {}: list answer is not a list object", spec_.name);
      return ListOutcome::kFailed;
    }
    for (json& item : page["items"]) {
      if (!item.is_object()) continue;
      if (!item.contains("apiVersion")) item["apiVersion"] = spec_.api_version;
      if (!item.contains("kind")) item["kind"] = spec_.kind;
      const std::string key = keyOf(stringAt(item, "metadata", "namespace"), stringAt(item, "metadata", "name"));
      fresh[key] = std::make_shared<const std::string>(item.dump());
    }
    version = stringAt(page, "metadata", "resourceVersion");
    continue_token = stringAt(page, "metadata", "continue");
    if (continue_token.empty()) break;
  }
  recovered();
  {
    // Replace: whatever is not in the fresh list was deleted meanwhile.
    std::lock_guard lock(mutex_);
    cache_ = std::move(fresh);
    resource_version_ = version;
  }
  need_list_ = false;
  synced_ = true;
  resetBackoff();
  spdlog::debug("kube {}: listed {} objects at resourceVersion {}", spec_.name, objects().size(), version);
  notifyChanged();
  if (callbacks_.in_sync) callbacks_.in_sync();
  return ListOutcome::kListed;
}

void Reflector::handleLine(std::string_view line, bool& gone, bool& broken) {
  if (gone || broken) return;  // the rest of a stream we are leaving
  json event = json::parse(line, nullptr, false);
  const std::string type = event.is_object() ? event.value("type", "") : "";
  if (type.empty() || !event.contains("object") || !event["object"].is_object()) {
    if (callbacks_.error) callbacks_.error("decode");
    spdlog::warn("kube {}: undecodable watch line; watching again from the last resourceVersion", spec_.name);
    broken = true;
    return;
  }
  json& object = event["object"];
  if (type == "ERROR") {
    const long code = object.value("code", 0L);
    if (callbacks_.error) callbacks_.error(errorReason(code));
    if (code == 410) {
      spdlog::info("kube {}: watch expired ({}); relisting", spec_.name, statusMessage(object.dump()));
      gone = true;
    } else {
      spdlog::warn("kube {}: watch error {}: {}", spec_.name, code, statusMessage(object.dump()));
      broken = true;
    }
    return;
  }
  const std::string version = stringAt(object, "metadata", "resourceVersion");
  if (type == "BOOKMARK") {
    std::lock_guard lock(mutex_);
    if (!version.empty()) resource_version_ = version;
  } else if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
    if (!object.contains("apiVersion")) object["apiVersion"] = spec_.api_version;
    if (!object.contains("kind")) object["kind"] = spec_.kind;
    const std::string key = keyOf(stringAt(object, "metadata", "namespace"), stringAt(object, "metadata", "name"));
    {
      std::lock_guard lock(mutex_);
      if (type == "DELETED") {
        cache_.erase(key);
      } else {
        cache_[key] = std::make_shared<const std::string>(object.dump());
      }
      if (!version.empty()) resource_version_ = version;
    }
    notifyChanged();
  } else {
    spdlog::debug("kube {}: ignoring watch event type {}", spec_.name, type);
  }
  if (callbacks_.in_sync) callbacks_.in_sync();
}

Reflector::WatchOutcome Reflector::watch() {
  // Spread reconnects: client-go picks timeoutSeconds in [min, 2*min).
  const auto min_timeout = options_.min_watch_timeout.count();
  const int64_t timeout_s = min_timeout + static_cast<int64_t>(static_cast<double>(min_timeout) * env_.random());
  Request request{spec_.path, spec_.selectors};
  request.query.emplace_back("watch", "true");
  request.query.emplace_back("resourceVersion", resourceVersion());
  request.query.emplace_back("allowWatchBookmarks", "true");
  request.query.emplace_back("timeoutSeconds", std::to_string(timeout_s));
  request.timeout = std::chrono::seconds(timeout_s + 30);  // the server ends it first

  bool gone = false;
  bool broken = false;
  bool idle = false;
  auto last_activity = env_.now();
  ++watches_;
  auto response = transport_.stream(
      request,
      [&](std::string_view line) {
        last_activity = env_.now();
        handleLine(line, gone, broken);
      },
      [&] {
        if (!idle && env_.now() - last_activity > options_.idle_limit) idle = true;
        return stop_ || gone || broken || idle;
      });
  if (stop_) return WatchOutcome::kEnded;
  if (gone) return WatchOutcome::kGone;
  if (idle) {
    // Nothing, not even a bookmark, for too long: the connection may be dead
    // without either side knowing. Resume from the last version at once.
    if (callbacks_.error) callbacks_.error("idle");
    spdlog::warn("kube {}: watch silent for {} s; watching again from resourceVersion {}", spec_.name,
                 options_.idle_limit.count() / 1000, resourceVersion());
    return WatchOutcome::kEnded;
  }
  if (broken) return WatchOutcome::kFailed;
  if (!response) {
    transportError("watch", response.error());
    return WatchOutcome::kFailed;
  }
  if (response->status == 410) {
    if (callbacks_.error) callbacks_.error("gone");
    spdlog::info("kube {}: resourceVersion {} is gone; relisting", spec_.name, resourceVersion());
    return WatchOutcome::kGone;
  }
  if (response->status != 200) {
    httpError("watch", *response);
    // Not served any more (its CRD was removed): list, which empties the set.
    if (response->status == 404) need_list_ = true;
    return WatchOutcome::kFailed;
  }
  recovered();
  return WatchOutcome::kEnded;
}

void Reflector::httpError(const char* verb, const Response& response) {
  if (callbacks_.error) callbacks_.error(errorReason(response.status));
  const std::string message = statusMessage(response.body);
  if (response.status == 401 || response.status == 403) {
    // Once per occurrence: a credential or RBAC problem repeats on every
    // retry; say it when it starts (and when it ends), not every time.
    if (failing_status_ != response.status) {
      spdlog::error("kube {}: {} {} ({}): {}; retrying with backoff", spec_.name, verb, response.status,
                    response.status == 401 ? "Unauthorized: the token or certificate was not accepted"
                                           : "Forbidden: the agent's RBAC does not allow it",
                    message);
      failing_status_ = response.status;
    } else {
      spdlog::debug("kube {}: {} still {}", spec_.name, verb, response.status);
    }
    return;
  }
  spdlog::warn("kube {}: {} answered {}: {}", spec_.name, verb, response.status, message);
}

void Reflector::transportError(const char* verb, const std::string& message) {
  if (callbacks_.error) callbacks_.error("connection");
  if (!failing_transport_) {
    spdlog::warn("kube {}: {} failed: {}; the last state stays enforced, retrying with backoff", spec_.name, verb,
                 message);
    failing_transport_ = true;
  } else {
    spdlog::debug("kube {}: {} failed again: {}", spec_.name, verb, message);
  }
}

void Reflector::recovered() {
  if (failing_status_ != 0 || failing_transport_) {
    spdlog::info("kube {}: the API server answers again", spec_.name);
  }
  failing_status_ = 0;
  failing_transport_ = false;
}

}  // namespace egressd::kube
