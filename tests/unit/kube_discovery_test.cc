// Discovery of networking.istio.io: the preferred served version per kind,
// absent kinds, and errors that leave the answer unknown.
#include <gtest/gtest.h>

#include "kube/discovery.h"
#include "kube_fake_transport.h"

namespace egressd::kube {
namespace {

using namespace testing;  // NOLINT

json group(const std::vector<std::string>& versions) {
  json list = json::array();
  for (const auto& v : versions) list.push_back({{"groupVersion", "networking.istio.io/" + v}, {"version", v}});
  return {{"kind", "APIGroup"}, {"name", "networking.istio.io"}, {"versions", list}};
}

json resources(const std::string& version, const std::vector<std::pair<std::string, std::string>>& name_kind) {
  json list = json::array();
  for (const auto& [name, kind] : name_kind) {
    list.push_back({{"name", name}, {"kind", kind}, {"namespaced", true}, {"verbs", {"get", "list", "watch"}}});
    list.push_back({{"name", name + "/status"}, {"kind", kind}, {"verbs", {"get", "patch"}}});
  }
  return {{"kind", "APIResourceList"}, {"groupVersion", "networking.istio.io/" + version}, {"resources", list}};
}

Answer ok(const json& body) {
  Answer answer;
  answer.body = body.dump();
  return answer;
}

const CancelCheck kNever = [] { return false; };

TEST(KubeDiscoveryTest, PrefersV1ThenV1beta1ThenV1alpha3PerKind) {
  // Rows: which kinds each version serves -> the version chosen per kind.
  struct Row {
    const char* description;
    std::map<std::string, std::set<std::string>> served;
    ServedVersions expected;
  };
  const std::vector<Row> rows = {
      {"all three serve everything", {{"v1", {"ServiceEntry", "Sidecar"}}, {"v1beta1", {"ServiceEntry", "Sidecar"}},
                                      {"v1alpha3", {"ServiceEntry", "Sidecar"}}},
       {{"ServiceEntry", "v1"}, {"Sidecar", "v1"}}},
      {"old Istio: no v1", {{"v1beta1", {"ServiceEntry"}}, {"v1alpha3", {"ServiceEntry", "Gateway"}}},
       {{"ServiceEntry", "v1beta1"}, {"Gateway", "v1alpha3"}}},
      {"an unknown version is ignored", {{"v2", {"ServiceEntry"}}}, {}},
      {"nothing", {}, {}},
  };
  for (const Row& row : rows) EXPECT_EQ(preferredVersions(row.served), row.expected) << row.description;
}

TEST(KubeDiscoveryTest, ReadsTheGroupAndEachKnownVersion) {
  FakeClock clock;
  FakeTransport transport(clock);
  transport.then(ok(group({"v1", "v1beta1", "v1alpha3"})));
  transport.then(ok(resources("v1", {{"serviceentries", "ServiceEntry"}})));
  transport.then(ok(resources("v1beta1", {{"serviceentries", "ServiceEntry"}, {"sidecars", "Sidecar"}})));
  transport.then(ok(resources("v1alpha3", {{"gateways", "Gateway"}})));
  auto served = discoverIstioNetworking(transport, kNever);
  ASSERT_TRUE(served) << served.error();
  EXPECT_EQ(*served, (ServedVersions{{"ServiceEntry", "v1"}, {"Sidecar", "v1beta1"}, {"Gateway", "v1alpha3"}}));
  ASSERT_EQ(transport.requests.size(), 4u);
  EXPECT_EQ(transport.requests[0].request.path, "/apis/networking.istio.io");
  EXPECT_EQ(transport.requests[3].request.path, "/apis/networking.istio.io/v1alpha3");
}

TEST(KubeDiscoveryTest, NoIstioInstalledIsAnEmptyAnswerNotAnError) {
  FakeClock clock;
  FakeTransport transport(clock);
  transport.then(httpError(false, 404, "NotFound"));
  auto served = discoverIstioNetworking(transport, kNever);
  ASSERT_TRUE(served) << served.error();
  EXPECT_TRUE(served->empty());
}

TEST(KubeDiscoveryTest, AnUnreachableOrFailingServerIsAnError) {
  FakeClock clock;
  FakeTransport transport(clock);
  Answer refused;
  refused.transport_error = "Couldn't connect to server";
  transport.then(refused);
  EXPECT_FALSE(discoverIstioNetworking(transport, kNever));
  transport.then(ok(group({"v1"})));
  transport.then(httpError(false, 503, "ServiceUnavailable"));
  auto served = discoverIstioNetworking(transport, kNever);
  ASSERT_FALSE(served);
  EXPECT_NE(served.error().find("/apis/networking.istio.io/v1: HTTP 503"), std::string::npos) << served.error();
}

}  // namespace
}  // namespace egressd::kube
