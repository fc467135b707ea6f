#pragma once
// A scripted Transport for the reflector's tests: each request takes the next
// scripted answer (a page, a watch stream of lines, an HTTP error, a broken
// connection, or a watch that stays silent); when the script runs out the
// reflector is stopped. Time is a fake clock that sleeps advance.
#include <gtest/gtest.h>

#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/reflector.h"
#include "kube/transport.h"

namespace egressd::kube::testing {

using json = nlohmann::json;

struct FakeClock {
  ReflectorEnv::Clock::time_point now{};
  std::vector<std::chrono::milliseconds> sleeps;
  std::vector<double> randoms;  // served in turn, then 0.5
  size_t next_random = 0;

  ReflectorEnv env() {
    return {[this] { return now; },
            [this] { return next_random < randoms.size() ? randoms[next_random++] : 0.5; },
            [this](std::chrono::milliseconds d) {
              sleeps.push_back(d);
              now += d;
            }};
  }
};

struct Answer {
  bool stream = false;              // expected request kind: watch (true) or list/get
  long status = 200;
  std::string body;                 // for a list page or an error status
  std::vector<std::string> lines;   // watch events delivered before the end
  std::string transport_error;      // non-empty: no HTTP answer (after `lines`)
  bool silent = false;              // a watch that never sends nor ends (until cancelled)
  std::chrono::milliseconds lasts{std::chrono::seconds(60)};  // how long a watch stream runs
};

class FakeTransport : public Transport {
 public:
  explicit FakeTransport(FakeClock& clock) : clock_(clock) {}
  void attach(Reflector& reflector) { reflector_ = &reflector; }
  void then(Answer answer) { script_.push_back(std::move(answer)); }

  Result<Response> get(const Request& request, const CancelCheck&) override {
    auto answer = next(false);
    if (!answer) return fail("end of script");
    requests.push_back({false, request});
    if (!answer->transport_error.empty()) return fail(answer->transport_error);
    return Response{answer->status, answer->body};
  }

  Result<Response> stream(const Request& request, const LineHandler& on_line, const CancelCheck& cancelled) override {
    auto answer = next(true);
    if (!answer) return fail("end of script");
    requests.push_back({true, request});
    if (answer->status != 200) return Response{answer->status, answer->body};
    for (const std::string& line : answer->lines) {
      clock_.now += std::chrono::milliseconds(10);
      on_line(line);
      if (cancelled()) return fail("cancelled");
    }
    if (answer->silent) {
      for (int i = 0; i < 100000 && !cancelled(); ++i) clock_.now += std::chrono::seconds(1);
      return fail("cancelled");
    }
    clock_.now += answer->lasts;
    if (!answer->transport_error.empty()) return fail(answer->transport_error);
    return Response{200, ""};
  }

  struct Sent {
    bool stream;
    Request request;
    std::string query(const std::string& key) const {
      for (const auto& [k, v] : request.query)
        if (k == key) return v;
      return "<unset>";
    }
  };
  std::vector<Sent> requests;
  size_t lists() const { return std::count_if(requests.begin(), requests.end(), [](const Sent& s) { return !s.stream; }); }

 private:
  std::optional<Answer> next(bool stream) {
    if (script_.empty()) {
      if (reflector_) reflector_->stop();
      return std::nullopt;
    }
    Answer answer = std::move(script_.front());
    script_.pop_front();
    EXPECT_EQ(answer.stream, stream) << "request " << requests.size() << " was a " << (stream ? "watch" : "list")
                                     << ", the script expected the other";
    return answer;
  }

  FakeClock& clock_;
  Reflector* reflector_ = nullptr;
  std::deque<Answer> script_;
};

inline json object(const std::string& ns, const std::string& name, const std::string& version,
                   const json& spec = json::object()) {
  json meta{{"name", name}, {"resourceVersion", version}};
  if (!ns.empty()) meta["namespace"] = ns;
  return json{{"metadata", meta}, {"spec", spec}};
}

inline Answer page(const std::vector<json>& items, const std::string& version, const std::string& next = "") {
  json meta{{"resourceVersion", version}};
  if (!next.empty()) meta["continue"] = next;
  Answer answer;
  answer.body = json{{"kind", "List"}, {"metadata", meta}, {"items", items}}.dump();
  return answer;
}

inline std::string event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump();
}

inline std::string bookmark(const std::string& version) {
  return event("BOOKMARK", json{{"metadata", {{"resourceVersion", version}}}});
}

inline json status(long code, const std::string& reason, const std::string& message) {
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", code},
              {"reason", reason}, {"message", message}};
}

inline Answer watchStream(std::vector<std::string> lines) {
  Answer answer;
  answer.stream = true;
  answer.lines = std::move(lines);
  return answer;
}

inline Answer httpError(bool stream, long code, const std::string& reason) {
  Answer answer;
  answer.stream = stream;
  answer.status = code;
  answer.body = status(code, reason, reason + " for testing").dump();
  return answer;
}

}  // namespace egressd::kube::testing
