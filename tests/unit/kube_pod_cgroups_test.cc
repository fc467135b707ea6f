// Pod-level cgroup resolution on fake cgroupfs trees (plain directories laid
// out as the kubelet lays out cgroup v2): every driver and QoS layout, the
// container scopes below a pod, and what must not be found.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "bpf/cgroup.h"
#include "kube/pod_cgroups.h"

namespace egressd::kube {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
constexpr const char* kUid_ = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0";
constexpr const char* kOtherUid = "11111111-2222-3333-4444-555555555555";

struct LayoutCase {
  const char* description;
  std::vector<std::string> tree;  // directories made under the root
  const char* root;               // --cgroup-root, relative to the tree's top ("" : the top)
  PodQos qos;
  std::string expected;  // relative to the tree's top; "" : not found
  std::string file = {};  // a plain file made under the root, if any
};

void PrintTo(const LayoutCase& c, std::ostream* os) { *os << c.description; }

std::string sd(const std::string& qos) {
  return "kubepods.slice/kubepods-" + qos + ".slice/kubepods-" + qos + "-pod" + kUid_ + ".slice";
}
std::string cgfs(const std::string& qos) { return "kubepods/" + qos + "/pod" + kUid; }
const std::string kSdGuaranteed = std::string("kubepods.slice/kubepods-pod") + kUid_ + ".slice";
const std::string kCgfsGuaranteed = std::string("kubepods/pod") + kUid;

const LayoutCase kLayouts[] = {
    {"systemd burstable", {sd("burstable")}, "", PodQos::kBurstable, sd("burstable")},
    {"systemd besteffort", {sd("besteffort")}, "", PodQos::kBestEffort, sd("besteffort")},
    {"systemd guaranteed", {kSdGuaranteed}, "", PodQos::kGuaranteed, kSdGuaranteed},
    {"cgroupfs burstable", {cgfs("burstable")}, "", PodQos::kBurstable, cgfs("burstable")},
    {"cgroupfs besteffort", {cgfs("besteffort")}, "", PodQos::kBestEffort, cgfs("besteffort")},
    {"cgroupfs guaranteed", {kCgfsGuaranteed}, "", PodQos::kGuaranteed, kCgfsGuaranteed},
    {"containerd scopes below the pod: the pod is found, not a container",
     {sd("burstable") + "/cri-containerd-3f4e5d.scope", sd("burstable") + "/cri-containerd-9a8b7c.scope"},
     "", PodQos::kBurstable, sd("burstable")},
    {"CRI-O scopes below the pod", {sd("besteffort") + "/crio-3f4e5d.scope", sd("besteffort") + "/crio-conmon-3f4e5d.scope"},
     "", PodQos::kBestEffort, sd("besteffort")},
    {"cri-dockerd scopes below the guaranteed pod", {kSdGuaranteed + "/docker-3f4e5d.scope"}, "", PodQos::kGuaranteed,
     kSdGuaranteed},
    {"cgroupfs containers below the pod", {cgfs("burstable") + "/3f4e5d", cgfs("burstable") + "/9a8b7c"}, "",
     PodQos::kBurstable, cgfs("burstable")},
    {"status.qosClass not set yet: every class is tried", {sd("besteffort")}, "", PodQos::kUnknown, sd("besteffort")},
    {"status.qosClass not set yet, cgroupfs guaranteed", {kCgfsGuaranteed}, "", PodQos::kUnknown, kCgfsGuaranteed},
    {"--cgroup-root is kubepods.slice itself", {sd("burstable")}, "kubepods.slice", PodQos::kBurstable,
     sd("burstable")},
    {"--cgroup-root is kubepods itself", {kCgfsGuaranteed}, "kubepods", PodQos::kGuaranteed, kCgfsGuaranteed},
    {"--cgroup-root with a trailing slash", {sd("burstable")}, "/", PodQos::kBurstable, sd("burstable")},
    {"the kubelet has not made it yet", {"kubepods.slice/kubepods-burstable.slice"}, "", PodQos::kBurstable, ""},
    {"another pod's directory only",
     {std::string("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kOtherUid + ".slice"}, "",
     PodQos::kBurstable, ""},
    {"the other QoS class's directory is not this pod", {sd("besteffort")}, "", PodQos::kBurstable, ""},
    {"systemd name with the uid's dashes (not the kubelet's form)",
     {std::string("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod") + kUid + ".slice"}, "",
     PodQos::kBurstable, ""},
    {"a container scope named after the pod, outside any pod directory",
     {std::string("kubepods.slice/kubepods-burstable.slice/cri-containerd-pod") + kUid_ + ".scope"}, "",
     PodQos::kBurstable, ""},
    {"a plain file where the pod directory would be", {"kubepods.slice/kubepods-burstable.slice"}, "",
     PodQos::kBurstable, "", sd("burstable")},
};

class PodCgroupLayoutTest : public ::testing::TestWithParam<LayoutCase> {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "egressd-podcg-XXXXXX").string();
    top_ = ::mkdtemp(pattern.data());
  }
  void TearDown() override { fs::remove_all(top_); }
  fs::path top_;
};

TEST_P(PodCgroupLayoutTest, FindsThePodLevelDirectory) {
  const LayoutCase& c = GetParam();
  for (const auto& dir : c.tree) fs::create_directories(top_ / dir);
  if (!c.file.empty()) std::ofstream(top_ / c.file) << "";
  const std::string relative = c.root;
  const std::string root = relative.empty() ? top_.string() : relative == "/" ? top_.string() + "/" : (top_ / relative).string();
  auto found = findPodCgroup(root, kUid, c.qos);
  ASSERT_TRUE(found) << found.error();
  if (c.expected.empty()) {
    EXPECT_EQ(found->path, "") << c.description;
    EXPECT_FALSE(found->looked_at.empty());
  } else {
    EXPECT_EQ(found->path, (top_ / c.expected).string()) << c.description;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, PodCgroupLayoutTest, ::testing::ValuesIn(kLayouts));

TEST(PodCgroupTest, CandidatesFollowTheKubeletsNaming) {
  auto burstable = podCgroupCandidates(kUid, PodQos::kBurstable);
  ASSERT_TRUE(burstable);
  EXPECT_EQ(*burstable, (std::vector<std::string>{sd("burstable"), cgfs("burstable")}));
  auto guaranteed = podCgroupCandidates(kUid, PodQos::kGuaranteed);
  ASSERT_TRUE(guaranteed);
  EXPECT_EQ(*guaranteed, (std::vector<std::string>{kSdGuaranteed, kCgfsGuaranteed}));
  auto unknown = podCgroupCandidates(kUid, PodQos::kUnknown);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->size(), 6u);
  // A static (mirror) pod's uid is the config hash: no dashes.
  auto hashed = podCgroupCandidates("5c3a0c0f2ad0b33b7c6b6e4f1e0f3a9d", PodQos::kBestEffort);
  ASSERT_TRUE(hashed);
  EXPECT_EQ(hashed->front(),
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod5c3a0c0f2ad0b33b7c6b6e4f1e0f3a9d.slice");
}

TEST(PodCgroupTest, AUidThatCouldNameAnotherPathIsRefused) {
  for (const char* uid : {"", "../../system.slice", "a/b", "a b", "pod\n"}) {
    auto found = findPodCgroup("/sys/fs/cgroup", uid, PodQos::kBurstable);
    ASSERT_FALSE(found) << uid;
    EXPECT_NE(found.error().find("not a UID"), std::string::npos) << found.error();
  }
}

TEST(PodCgroupTest, QosClassAsTheApiWritesIt) {
  EXPECT_EQ(parsePodQos("Guaranteed"), PodQos::kGuaranteed);
  EXPECT_EQ(parsePodQos("Burstable"), PodQos::kBurstable);
  EXPECT_EQ(parsePodQos("BestEffort"), PodQos::kBestEffort);
  EXPECT_EQ(parsePodQos(""), PodQos::kUnknown);
  EXPECT_EQ(parsePodQos("besteffort"), PodQos::kUnknown);
}

TEST(PodCgroupTest, ARootOffCgroupV2IsAClearError) {
  const std::string tmp = fs::temp_directory_path().string();  // tmpfs or a disk, never cgroup2
  Status status = checkPodCgroupRootIsV2(tmp);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("cgroup v1"), std::string::npos) << status.error();
  EXPECT_NE(status.error().find(tmp), std::string::npos) << status.error();

  Status missing = checkPodCgroupRootIsV2("/nonexistent/egressd-cgroup");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();

  Status none = checkPodCgroupRootIsV2("");  // no cgroup2 mount at all
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("cgroup v1"), std::string::npos) << none.error();

  const std::string v2 = bpf::cgroup2MountRoot();
  ASSERT_FALSE(v2.empty()) << "this machine has no cgroup2 mount";
  EXPECT_TRUE(checkPodCgroupRootIsV2(v2)) << checkPodCgroupRootIsV2(v2).error();
}

}  // namespace
}  // namespace egressd::kube

namespace egressd::kube {
namespace {

// What is in the QoS directories, Pod or not: both drivers, every class;
// containers and the kubelet's other directories are not pods.
TEST(PodCgroupTest, ListsThePodCgroupsOfEveryQosDirectory) {
  std::string pattern = (fs::temp_directory_path() / "egressd-podlist-XXXXXX").string();
  const fs::path top = ::mkdtemp(pattern.data());
  for (const std::string& dir : {sd("burstable"), sd("burstable") + "/cri-containerd-3f4e5d.scope", kSdGuaranteed,
                                 cgfs("besteffort"), std::string("kubepods/burstable/pod") + kOtherUid,
                                 std::string("kubepods.slice/kubepods-besteffort.slice/system.slice"),
                                 std::string("kubepods/besteffort/podbad_uid"), std::string("elsewhere/pod") + kUid})
    fs::create_directories(top / dir);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& found : listPodCgroups(top.string())) got.emplace_back(found.path, found.uid);
  const std::vector<std::pair<std::string, std::string>> want = {
      {(top / sd("burstable")).string(), kUid},
      {(top / kSdGuaranteed).string(), kUid},
      {(top / cgfs("besteffort")).string(), kUid},
      {(top / "kubepods/burstable/pod").string() + kOtherUid, kOtherUid},
  };  // in path order ('.' sorts before '/')
  EXPECT_EQ(got, want);
  fs::remove_all(top);
}

}  // namespace
}  // namespace egressd::kube
