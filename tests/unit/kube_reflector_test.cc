// The reflector against a scripted transport: one test per rule of
// client-go's list-and-watch that egressd relies on.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

#include "kube_fake_transport.h"

namespace egressd::kube {
namespace {

using namespace testing;  // NOLINT
using std::chrono::milliseconds;

class ReflectorTest : public ::testing::Test {
 protected:
  ReflectorTest() : transport_(clock_) {}

  // Runs the reflector until the script is used up.
  void run() {
    Reflector::Callbacks callbacks;
    callbacks.changed = [this] { ++changes_; };
    callbacks.error = [this](const std::string& reason) { ++errors_[reason]; };
    reflector_ = std::make_unique<Reflector>(transport_, spec_, options_, callbacks, clock_.env());
    transport_.attach(*reflector_);
    reflector_->run();
  }

  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& [key, object] : reflector_->objects()) out.push_back(key);
    return out;
  }

  // Which requests were lists and which watches, and from which version: "L L W@5 W@7".
  std::string requests() const {
    std::string out;
    for (const auto& sent : transport_.requests) {
      if (!out.empty()) out += ' ';
      out += sent.stream ? "W@" + sent.query("resourceVersion") : std::string("L");
    }
    return out;
  }

  ResourceSpec spec_{"serviceentries", "networking.istio.io/v1", "ServiceEntry",
                     "/apis/networking.istio.io/v1/serviceentries", {}};
  ReflectorOptions options_;
  FakeClock clock_;
  FakeTransport transport_;
  std::unique_ptr<Reflector> reflector_;
  int changes_ = 0;
  std::map<std::string, int> errors_;
};

TEST_F(ReflectorTest, ListsInPagesThenWatchesFromTheListVersion) {
  options_.page_size = 2;
  transport_.then(page({object("a", "one", "3"), object("a", "two", "4")}, "5", "token-1"));
  transport_.then(page({object("", "cluster-wide", "5")}, "5"));
  transport_.then(watchStream({}));
  run();

  EXPECT_EQ(requests(), "L L W@5");
  EXPECT_EQ(transport_.requests[0].query("limit"), "2");
  EXPECT_EQ(transport_.requests[0].query("continue"), "<unset>");
  EXPECT_EQ(transport_.requests[1].query("continue"), "token-1");
  const auto& watch = transport_.requests[2];
  EXPECT_EQ(watch.query("watch"), "true");
  EXPECT_EQ(watch.query("allowWatchBookmarks"), "true");
  const int timeout = std::stoi(watch.query("timeoutSeconds"));
  EXPECT_GE(timeout, 300);
  EXPECT_LT(timeout, 600);
  EXPECT_EQ(watch.request.path, "/apis/networking.istio.io/v1/serviceentries");

  EXPECT_TRUE(reflector_->synced());
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/one", "a/two", "cluster-wide"}));
  // Typed list items carry no kind: the reflector adds it for the parser.
  const json stored = json::parse(*reflector_->objects().at("a/one"));
  EXPECT_EQ(stored["kind"], "ServiceEntry");
  EXPECT_EQ(stored["apiVersion"], "networking.istio.io/v1");
}

TEST_F(ReflectorTest, SelectorsGoOnListAndWatch) {
  spec_.selectors = {{"fieldSelector", "spec.nodeName=node-1"}};
  transport_.then(page({}, "1"));
  transport_.then(watchStream({}));
  run();
  ASSERT_EQ(transport_.requests.size(), 2u);
  for (const auto& sent : transport_.requests) EXPECT_EQ(sent.query("fieldSelector"), "spec.nodeName=node-1");
}

TEST_F(ReflectorTest, EventsChangeTheCacheAndTheVersion) {
  transport_.then(page({object("a", "one", "3")}, "5"));
  transport_.then(watchStream({event("ADDED", object("a", "two", "6")),
                               event("MODIFIED", object("a", "one", "7", {{"hosts", {"x"}}})),
                               event("DELETED", object("a", "two", "8"))}));
  run();
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/one"}));
  EXPECT_EQ(json::parse(*reflector_->objects().at("a/one"))["spec"]["hosts"][0], "x");
  EXPECT_EQ(reflector_->resourceVersion(), "8");
  EXPECT_EQ(changes_, 4);  // the list, then each event
}

TEST_F(ReflectorTest, AWatchThatEndsOrBreaksResumesFromTheLastVersionWithoutRelisting) {
  transport_.then(page({}, "5"));
  transport_.then(watchStream({event("ADDED", object("a", "one", "11"))}));  // ends normally (timeoutSeconds)
  Answer broken = watchStream({event("ADDED", object("a", "two", "12"))});
  broken.transport_error = "Connection reset by peer";  // breaks mid-stream
  transport_.then(broken);
  Answer refused;  // the server is down for a while
  refused.stream = true;
  refused.transport_error = "Couldn't connect to server";
  transport_.then(refused);
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 W@11 W@12 W@12");
  EXPECT_EQ(transport_.lists(), 1u);
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/one", "a/two"}));
  EXPECT_EQ(errors_["connection"], 2);
}

TEST_F(ReflectorTest, ABookmarkMovesTheResumeVersion) {
  transport_.then(page({}, "5"));
  transport_.then(watchStream({bookmark("40")}));
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 W@40");
  EXPECT_EQ(changes_, 1);  // a bookmark changes no object
}

TEST_F(ReflectorTest, GoneAsHttpStatusOrErrorEventRelistsAndRemovesWhatDisappeared) {
  transport_.then(page({object("a", "one", "3"), object("a", "two", "4")}, "5"));
  transport_.then(httpError(true, 410, "Expired"));  // the version is too old to watch from
  transport_.then(page({object("a", "two", "9"), object("a", "three", "10")}, "10"));
  transport_.then(watchStream({event("ERROR", status(410, "Expired", "too old resource version: 10 (20)"))}));
  transport_.then(page({object("a", "three", "10")}, "21"));
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 L W@10 L W@21");
  // Replace semantics: "one" and then "two" were deleted while we were not watching.
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/three"}));
  EXPECT_EQ(errors_["gone"], 2);
  EXPECT_TRUE(clock_.sleeps.empty()) << "a 410 relists at once";
}

TEST_F(ReflectorTest, OtherErrorEventsResumeWithoutRelisting) {
  transport_.then(page({}, "5"));
  transport_.then(watchStream({event("ADDED", object("a", "one", "6")),
                               event("ERROR", status(500, "InternalError", "etcd unavailable"))}));
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 W@6");
  EXPECT_EQ(errors_["server_error"], 1);
  EXPECT_EQ(clock_.sleeps.size(), 1u);
}

TEST_F(ReflectorTest, AnExpiredContinueTokenListsAgainFromTheStart) {
  options_.page_size = 1;
  transport_.then(page({object("a", "one", "3")}, "5", "token-1"));
  transport_.then(httpError(false, 410, "Expired"));
  transport_.then(page({object("a", "two", "3")}, "6"));
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L L L W@6");
  EXPECT_EQ(transport_.requests[2].query("continue"), "<unset>");
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/two"}));
}

TEST_F(ReflectorTest, BackoffDoublesFrom800msTo30sWithJitterInOneToTwo) {
  Answer down;
  down.transport_error = "Couldn't connect to server";
  for (int i = 0; i < 9; ++i) transport_.then(down);
  // Jitter extremes: the low end, then the top end, in turn.
  clock_.randoms = {0.0, 0.999, 0.0, 0.999, 0.0, 0.999, 0.0, 0.999, 0.0};
  run();
  ASSERT_EQ(clock_.sleeps.size(), 9u);
  for (size_t i = 0; i < clock_.sleeps.size(); ++i) {
    const int64_t base = std::min<int64_t>(800LL << i, 30000);
    EXPECT_GE(clock_.sleeps[i].count(), base) << "sleep " << i;
    EXPECT_LT(clock_.sleeps[i].count(), 2 * base) << "sleep " << i;
  }
  EXPECT_EQ(clock_.sleeps[0].count(), 800);
  EXPECT_EQ(clock_.sleeps[8].count(), 30000);
  EXPECT_EQ(errors_["connection"], 9);
  EXPECT_FALSE(reflector_->synced());
}

TEST_F(ReflectorTest, BackoffStartsOverAfterASuccessfulList) {
  Answer down;
  down.transport_error = "Couldn't connect to server";
  transport_.then(down);
  transport_.then(down);
  transport_.then(page({}, "5"));
  Answer refused = down;
  refused.stream = true;
  transport_.then(refused);
  clock_.randoms = std::vector<double>(10, 0.0);
  run();
  // 800, 1600, then (after the list succeeded) 800 again. One random goes to timeoutSeconds.
  ASSERT_EQ(clock_.sleeps.size(), 3u);
  EXPECT_EQ(clock_.sleeps[0].count(), 800);
  EXPECT_EQ(clock_.sleeps[1].count(), 1600);
  EXPECT_EQ(clock_.sleeps[2].count(), 800);
}

TEST_F(ReflectorTest, AWatchTheServerEndsAtOnceBacksOffInsteadOfSpinning) {
  transport_.then(page({}, "5"));
  for (int i = 0; i < 4; ++i) {
    Answer instant = watchStream({});
    instant.lasts = milliseconds(0);
    transport_.then(instant);
  }
  run();
  EXPECT_EQ(clock_.sleeps.size(), 4u);
  for (size_t i = 1; i < clock_.sleeps.size(); ++i) EXPECT_GT(clock_.sleeps[i], clock_.sleeps[i - 1]);
}

TEST_F(ReflectorTest, TheWatchdogAbandonsASilentWatchAndResumesFromTheLastVersion) {
  options_.idle_limit = milliseconds(90000);
  transport_.then(page({}, "5"));
  Answer silent = watchStream({event("ADDED", object("a", "one", "6"))});
  silent.silent = true;
  transport_.then(silent);
  transport_.then(watchStream({}));
  const auto start = clock_.now;
  run();
  EXPECT_EQ(requests(), "L W@5 W@6");
  EXPECT_EQ(errors_["idle"], 1);
  // Abandoned just past the limit, not before it and not much later.
  const auto waited = clock_.now - start;
  EXPECT_GE(waited, milliseconds(90000));
  EXPECT_LT(waited, milliseconds(90000 + 60000 + 5000));  // + the next watch's 60 s run
  EXPECT_TRUE(clock_.sleeps.empty()) << "a silent watch is resumed at once";
}

TEST_F(ReflectorTest, AnUnservedCollectionIsAnEmptySetAndIsListedAgainLater) {
  transport_.then(page({object("a", "one", "3")}, "5"));
  transport_.then(httpError(true, 404, "NotFound"));  // the CRD was removed
  transport_.then(httpError(false, 404, "NotFound"));
  transport_.then(page({object("a", "two", "3")}, "8"));  // installed again
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 L L W@8");
  ASSERT_GE(clock_.sleeps.size(), 2u);
  EXPECT_EQ(clock_.sleeps[1], options_.absent_retry);
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/two"}));
}

TEST_F(ReflectorTest, UnauthorizedAndForbiddenAreLoggedOncePerOccurrenceAndBackedOff) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  for (int i = 0; i < 3; ++i) transport_.then(httpError(false, 401, "Unauthorized"));
  transport_.then(page({}, "5"));
  for (int i = 0; i < 3; ++i) transport_.then(httpError(true, 403, "Forbidden"));
  transport_.then(watchStream({}));
  clock_.randoms = std::vector<double>(20, 0.0);
  run();
  spdlog::set_default_logger(previous);

  const std::string text = log.str();
  auto count = [&](const std::string& word) {
    size_t n = 0;
    for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("[error]"), 2u) << text;
  EXPECT_EQ(count("serviceentries: list 401 (Unauthorized"), 1u) << text;
  EXPECT_EQ(count("serviceentries: watch 403 (Forbidden"), 1u) << text;
  EXPECT_EQ(errors_["unauthorized"], 3);
  EXPECT_EQ(errors_["forbidden"], 3);
  // Every failure waited, growing within each run of failures: never a tight loop.
  ASSERT_EQ(clock_.sleeps.size(), 6u);
  EXPECT_EQ(clock_.sleeps[0].count(), 800);
  EXPECT_EQ(clock_.sleeps[2].count(), 3200);
  EXPECT_EQ(clock_.sleeps[3].count(), 800);
  EXPECT_EQ(clock_.sleeps[5].count(), 3200);
  EXPECT_EQ(requests(), "L L L L W@5 W@5 W@5 W@5");
}

TEST_F(ReflectorTest, AnUndecodableLineEndsTheWatchAndResumes) {
  transport_.then(page({}, "5"));
  transport_.then(watchStream({event("ADDED", object("a", "one", "6")), "{not json", event("ADDED", object("a", "x", "7"))}));
  transport_.then(watchStream({}));
  run();
  EXPECT_EQ(requests(), "L W@5 W@6");
  EXPECT_EQ(keys(), (std::vector<std::string>{"a/one"}));
  EXPECT_EQ(errors_["decode"], 1);
}

}  // namespace
}  // namespace egressd::kube
