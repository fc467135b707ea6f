// CurlTransport against a local HTTP server: query encoding, the bearer
// token, watch lines delivered as they arrive, cancellation, and the token
// file read again after a 401.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/curl_transport.h"

namespace egressd::kube {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
  }
  void start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    release_ = true;
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  ClusterConfig config(std::shared_ptr<BearerToken> token = BearerToken::fixed("secret")) {
    ClusterConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(port_);
    c.token = std::move(token);
    return c;
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> release_{false};
};

const CancelCheck kNever = [] { return false; };

TEST_F(CurlTransportTest, GetSendsEscapedQueryAndTheToken) {
  server_.Get("/api/v1/pods", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.get_param_value("fieldSelector") + "|" + req.get_param_value("limit") + "|" +
                         req.get_header_value("Authorization"),
                    "text/plain");
  });
  server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"kind":"Status","code":404})", "application/json");
  });
  start();
  CurlTransport transport(config());
  auto response = transport.get({"/api/v1/pods", {{"fieldSelector", "spec.nodeName=a b&c"}, {"limit", "500"}}}, kNever);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "spec.nodeName=a b&c|500|Bearer secret");
  auto missing = transport.get({"/missing", {}}, kNever);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("\"code\":404"), std::string::npos);
}

TEST_F(CurlTransportTest, AStreamDeliversEachLineAsItArrives) {
  std::atomic<bool> client_saw_first{false};
  std::atomic<bool> server_waited_in_vain{false};
  server_.Get("/watch", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
      sink.write("{\"n\":1}\n", 8);
      // The second line is only sent once the client has the first: a
      // transport that buffered the stream would make this wait run out.
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      while (!client_saw_first && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
      server_waited_in_vain = !client_saw_first;
      sink.write("{\"n\":", 5);  // a line split across chunks
      std::this_thread::sleep_for(20ms);
      sink.write("2}\n{\"n\":3}", 10);  // the last line has no newline
      sink.done();
      return true;
    });
  });
  start();
  CurlTransport transport(config());
  std::vector<std::string> lines;
  auto response = transport.stream({"/watch", {}},
                                   [&](std::string_view line) {
                                     lines.emplace_back(line);
                                     client_saw_first = true;
                                   },
                                   kNever);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_FALSE(server_waited_in_vain);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"n\":1}", "{\"n\":2}", "{\"n\":3}"}));
}

TEST_F(CurlTransportTest, ANon200StreamIsCollectedAsABody) {
  server_.Get("/watch", [](const httplib::Request&, httplib::Response& res) {
    res.status = 410;
    res.set_content("{\"code\":410}\n", "application/json");
  });
  start();
  CurlTransport transport(config());
  int lines = 0;
  auto response = transport.stream({"/watch", {}}, [&](std::string_view) { ++lines; }, kNever);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 410);
  EXPECT_EQ(lines, 0);
  EXPECT_EQ(response->body, "{\"code\":410}\n");
}

TEST_F(CurlTransportTest, CancellationEndsASilentStream) {
  server_.Get("/watch", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 300 && !release_; ++i) std::this_thread::sleep_for(10ms);
      sink.done();
      return true;
    });
  });
  start();
  CurlTransport transport(config());
  const auto started = std::chrono::steady_clock::now();
  auto response = transport.stream({"/watch", {}}, [](std::string_view) {},
                                   [&] { return std::chrono::steady_clock::now() - started > 200ms; });
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error(), "cancelled");
  EXPECT_LT(took, 2500ms);  // libcurl asks at least once a second
  release_ = true;
}

TEST_F(CurlTransportTest, ARefusedConnectionIsAnError) {
  // A port that was just free: nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  ClusterConfig refused = config();
  refused.server = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  CurlTransport transport(refused);
  auto response = transport.get({"/", {}}, kNever);
  ASSERT_FALSE(response);
  EXPECT_NE(response.error().find("onnect"), std::string::npos) << response.error();
}

TEST_F(CurlTransportTest, A401MakesTheTokenFileBeReadAgain) {
  const fs::path file = fs::temp_directory_path() / ("egressd_token_" + std::to_string(::getpid()));
  std::ofstream(file) << "old";
  server_.Get("/api", [](const httplib::Request& req, httplib::Response& res) {
    res.status = req.get_header_value("Authorization") == "Bearer new" ? 200 : 401;
  });
  start();
  CurlTransport transport(config(BearerToken::fromFile(file)));
  ASSERT_EQ(transport.get({"/api", {}}, kNever)->status, 401);
  // Rotated in place with the same size and mtime: unnoticed until the 401 said so.
  const auto mtime = fs::last_write_time(file);
  std::ofstream(file) << "new";
  fs::last_write_time(file, mtime);
  EXPECT_EQ(transport.get({"/api", {}}, kNever)->status, 200);
  fs::remove(file);
}

}  // namespace
}  // namespace egressd::kube
