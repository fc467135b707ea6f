#pragma once
// One resource kept in a local cache the way client-go's Reflector does it:
//   LIST in pages (limit/continue), replace the cache with the result
//   (objects that disappeared while we were away are removed), then WATCH
//   from the list's resourceVersion with allowWatchBookmarks and a
//   timeoutSeconds in [min, 2*min). When a watch ends or breaks, watch again
//   from the last resourceVersion seen (an event's or a bookmark's): no
//   relist. Only 410 Gone (as the HTTP status or as an ERROR event) relists.
// Errors back off exponentially with jitter (800 ms doubling to 30 s, times
// [1, 2)), as client-go's reflector does; a watch that stays silent past the
// idle limit is abandoned and resumed (the watchdog). 401/403 are logged once
// per occurrence (when they start, and when they end), and retried with the
// same backoff.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kube/transport.h"

namespace egressd::kube {

struct ResourceSpec {
  std::string name;         // "serviceentries": logs and metric labels
  std::string api_version;  // "networking.istio.io/v1": set on objects that lack it (typed list items)
  std::string kind;         // "ServiceEntry"
  std::string path;         // the collection: "/apis/networking.istio.io/v1/serviceentries"
  std::vector<std::pair<std::string, std::string>> selectors;  // fieldSelector / labelSelector
};

struct ReflectorOptions {
  size_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};       // timeoutSeconds is in [min, 2*min)
  std::chrono::milliseconds idle_limit{90000};       // watchdog: no line for this long
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds short_watch{1000};       // a watch that ends sooner, silent, backs off
  std::chrono::milliseconds absent_retry{30000};     // a collection that is not served (404): list again
};

// The clock, sleeping and randomness, replaceable by tests.
struct ReflectorEnv {
  using Clock = std::chrono::steady_clock;
  std::function<Clock::time_point()> now;
  std::function<double()> random;  // uniform in [0, 1)
  // Sleeps unless stopped; null: wait on the reflector's own stop signal.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Object JSON by key ("namespace/name", or "name" when cluster-scoped).
using ObjectMap = std::map<std::string, std::shared_ptr<const std::string>>;

class Reflector {
 public:
  struct Callbacks {
    std::function<void()> changed;                    // the cache changed (or was synced for the first time)
    std::function<void(const std::string& reason)> error;  // one failed request or broken watch
    std::function<void()> in_sync;                    // the cache is known current (list done, event, bookmark)
  };

  Reflector(Transport& transport, ResourceSpec spec, ReflectorOptions options, Callbacks callbacks,
            ReflectorEnv env = {});

  // Lists and watches until stop() (or `stop` set by a test's transport).
  void run();
  void stop();
  bool stopped() const { return stop_; }

  ObjectMap objects() const;
  size_t size() const;
  bool synced() const { return synced_; }  // listed once (an unserved collection counts, as empty)
  std::string resourceVersion() const;
  const ResourceSpec& spec() const { return spec_; }
  uint64_t lists() const { return lists_; }      // LIST requests (pages) sent
  uint64_t watches() const { return watches_; }  // WATCH requests sent

 private:
  enum class ListOutcome { kListed, kAbsent, kFailed };
  enum class WatchOutcome { kEnded, kGone, kFailed };

  ListOutcome list();
  WatchOutcome watch();
  void handleLine(std::string_view line, bool& gone, bool& broken);
  // An HTTP error answer: counted, logged (401/403 once per occurrence).
  void httpError(const char* verb, const Response& response);
  void transportError(const char* verb, const std::string& message);
  void recovered();
  void backoff();
  void resetBackoff() { backoff_step_ = 0; }
  void sleepFor(std::chrono::milliseconds duration);
  void notifyChanged();
  std::string keyOf(const std::string& ns, const std::string& name) const;

  Transport& transport_;
  ResourceSpec spec_;
  ReflectorOptions options_;
  Callbacks callbacks_;
  ReflectorEnv env_;

  mutable std::mutex mutex_;  // cache_ and resource_version_
  ObjectMap cache_;
  std::string resource_version_;
  std::atomic<bool> synced_{false};
  bool need_list_ = true;
  int backoff_step_ = 0;
  long failing_status_ = 0;  // 401 or 403 while they last: logged once
  bool failing_transport_ = false;
  std::atomic<uint64_t> lists_{0};
  std::atomic<uint64_t> watches_{0};

  std::atomic<bool> stop_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
};

// Why an API request failed, as the `reason` label of egressd_kube_watch_errors_total.
std::string errorReason(long status);

}  // namespace egressd::kube
