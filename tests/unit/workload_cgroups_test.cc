// Workload cgroups on a private cgroup v2 tree: ids, pods parents, what the
// watcher follows, the map diff, and the watcher's inotify events (a child
// cgroup created, removed and created again; the first process moving in).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/workload_cgroups.h"
#include "bpf/cgroup.h"
#include "sources/cgroup_watcher.h"

namespace egressd::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

policy::Workload workload(const std::string& ns, const std::string& name, const std::string& cgroup) {
  policy::Workload w;
  w.meta.namespace_ = ns;
  w.meta.name = name;
  w.cgroup = cgroup;
  return w;
}

class WorkloadCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string mount = bpf::cgroup2MountRoot();
    if (::geteuid() != 0 || mount.empty()) GTEST_SKIP() << "needs root and a cgroup v2 mount";
    root_ = mount + "/egressd-unit-" + std::to_string(::getpid());
    ASSERT_TRUE(fs::create_directory(root_)) << root_;
  }
  void TearDown() override {
    if (root_.empty()) return;
    // Children first: a cgroup goes only once it has none.
    std::vector<fs::path> dirs;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_directory()) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.string() > b.string(); });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(root_.c_str());
  }
  std::string make(const std::string& relative) {
    fs::create_directories(root_ + "/" + relative);
    return root_ + "/" + relative;
  }
  uint64_t idOf(const std::string& path) {
    auto id = bpf::cgroupIdOf(path);
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : 0;
  }
  std::string root_;
};

TEST_F(WorkloadCgroupsTest, ParentsAreTheWorkloadsDirectoriesNeverTheRoot) {
  const auto web = make("prod/web");
  make("prod/api");
  make("top");
  const auto cgroups = resolveWorkloadCgroups({workload("prod", "web", "prod/web"), workload("prod", "api", "prod/api"),
                                               workload("staging", "late", "staging/late"),
                                               workload("x", "top", "top"), workload("x", "out", "/tmp")},
                                              root_);
  EXPECT_EQ(cgroups.resolved.at("prod/web"), idOf(web));
  EXPECT_TRUE(cgroups.unresolved.count("staging/late"));  // not created yet
  EXPECT_TRUE(cgroups.unresolved.count("x/out"));         // outside the root
  EXPECT_EQ(cgroups.wanted.size(), 4u);                   // all but the one outside
  // prod holds two workloads: one parent. staging does not exist yet; the
  // root (top's parent) is never one.
  EXPECT_EQ(podsParents(cgroups), (std::map<std::string, uint64_t>{{root_ + "/prod", idOf(root_ + "/prod")}}));

  // What the watcher follows: each parent, or its nearest existing ancestor
  // while it is missing; each resolved workload's cgroup.events.
  const CgroupWatchSet set = cgroupWatchSet(cgroups);
  EXPECT_EQ(set.dirs, (std::set<std::string>{root_, root_ + "/prod"}));
  EXPECT_EQ(set.event_files, (std::set<std::string>{web + "/cgroup.events", root_ + "/prod/api/cgroup.events",
                                                    root_ + "/top/cgroup.events"}));

  // The parent appears: now it is a pods parent and watched itself.
  make("staging");
  const auto later = resolveWorkloadCgroups({workload("staging", "late", "staging/late")}, root_);
  EXPECT_EQ(podsParents(later).count(root_ + "/staging"), 1u);
  EXPECT_EQ(cgroupWatchSet(later).dirs, (std::set<std::string>{root_ + "/staging"}));
}

policy::Workload pod(const std::string& name, const std::string& uid, const std::string& qos) {
  policy::Workload w;
  w.meta.namespace_ = "prod";
  w.meta.name = name;
  w.pod = policy::PodInfo{uid, qos, name, false};
  return w;
}

// Kubernetes mode: a pod's cgroup is where the kubelet puts it (the systemd
// layout here), waiting until it exists; the QoS directories that exist are
// pods parents, and all of them are watched (missing ones through their
// nearest ancestor), so a pod cgroup's mkdir is seen wherever it lands.
TEST_F(WorkloadCgroupsTest, PodsAreFoundFromTheirUidAndTheQosDirectoriesAreParents) {
  const auto burstable = make("kubepods.slice/kubepods-burstable.slice");
  const auto web = make("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1111_aaaa.slice");
  make("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1111_aaaa.slice/cri-containerd-0123.scope");
  const auto cgroups = resolveWorkloadCgroups(
      {pod("web", "1111-aaaa", "Burstable"), pod("late", "2222-bbbb", "BestEffort")}, root_, true);
  EXPECT_EQ(cgroups.resolved.at("prod/web"), idOf(web)) << "the pod-level cgroup, not its container";
  EXPECT_EQ(cgroups.paths.at("prod/web"), web);
  const std::string waiting = cgroups.unresolved.at("prod/late");
  EXPECT_EQ(waiting.rfind(kWaitingForCgroup, 0), 0u) << waiting;
  EXPECT_NE(waiting.find("kubepods-besteffort-pod2222_bbbb.slice"), std::string::npos) << waiting;
  EXPECT_NE(waiting.find("kubepods/besteffort/pod2222-bbbb"), std::string::npos) << waiting;
  EXPECT_EQ(podsParents(cgroups), (std::map<std::string, uint64_t>{{root_ + "/kubepods.slice", idOf(root_ + "/kubepods.slice")},
                                                                   {burstable, idOf(burstable)}}));
  // besteffort and the cgroupfs tree do not exist: their nearest ancestors are watched.
  EXPECT_EQ(cgroupWatchSet(cgroups).dirs, (std::set<std::string>{root_, root_ + "/kubepods.slice", burstable}));

  // Its cgroup appears: resolved, a new id, a new parent.
  const auto late = make("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2222_bbbb.slice");
  const auto after = resolveWorkloadCgroups(
      {pod("web", "1111-aaaa", "Burstable"), pod("late", "2222-bbbb", "BestEffort")}, root_, true);
  EXPECT_EQ(after.resolved.at("prod/late"), idOf(late));
  EXPECT_FALSE(after.sameIds(cgroups));
  EXPECT_EQ(podsParents(after).count(root_ + "/kubepods.slice/kubepods-besteffort.slice"), 1u);
  // Without Kubernetes mode no QoS directory is a parent by itself.
  EXPECT_TRUE(resolveWorkloadCgroups({}, root_).pod_dirs.empty());
}

TEST_F(WorkloadCgroupsTest, RecreatedCgroupHasANewId) {
  const auto web = make("prod/web");
  const auto before = resolveWorkloadCgroups({workload("prod", "web", "prod/web")}, root_);
  ASSERT_EQ(::rmdir(web.c_str()), 0);
  ASSERT_EQ(::mkdir(web.c_str(), 0755), 0);
  const auto after = resolveWorkloadCgroups({workload("prod", "web", "prod/web")}, root_);
  EXPECT_NE(before.resolved.at("prod/web"), after.resolved.at("prod/web"));
  EXPECT_FALSE(before.sameIds(after));
  EXPECT_TRUE(after.sameIds(resolveWorkloadCgroups({workload("prod", "web", "prod/web")}, root_)));
}

TEST(CgroupMapDiff, PutsChangedAndNewRemovesStale) {
  const auto diff = diffCgroupMap({{1, 1}, {2, 2}, {3, 1}}, {{1, 1}, {2, 1}, {4, 1}});
  EXPECT_EQ(diff.put, (std::map<uint64_t, uint32_t>{{2, 2}, {3, 1}}));
  EXPECT_EQ(diff.remove, (std::vector<uint64_t>{4}));
  EXPECT_TRUE(diffCgroupMap({}, {}).put.empty());
}

// Waits up to 2 s for the watcher to report something.
sources::CgroupWatcher::Changes waitFor(sources::CgroupWatcher& watcher) {
  sources::CgroupWatcher::Changes all;
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (!all.any() && std::chrono::steady_clock::now() < until) {
    auto c = watcher.wait(100ms);
    EXPECT_TRUE(c.ok()) << c.error();
    if (!c.ok()) break;
    all.directories |= c->directories;
    all.files |= c->files;
  }
  return all;
}

TEST_F(WorkloadCgroupsTest, WatcherSeesCgroupsComeGoAndGetTheirFirstProcess) {
  const auto parent = make("prod");
  const auto web = make("prod/web");
  auto watcher = sources::CgroupWatcher::open();
  ASSERT_TRUE(watcher.ok()) << watcher.error();
  watcher->watch({parent}, {web + "/cgroup.events"});
  EXPECT_FALSE(watcher->wait(50ms)->any());

  // The first process: cgroup.events says "populated 1".
  const pid_t child = ::fork();
  if (child == 0) {
    std::ofstream(web + "/cgroup.procs") << ::getpid() << std::flush;
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  auto populated = waitFor(*watcher);
  EXPECT_TRUE(populated.files);
  EXPECT_FALSE(populated.directories);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  waitFor(*watcher);  // "populated 0"
  std::this_thread::sleep_for(50ms);
  watcher->drain();

  // Removed and created again at the same path (a service restart).
  ASSERT_EQ(::rmdir(web.c_str()), 0);
  EXPECT_TRUE(waitFor(*watcher).directories);
  ASSERT_EQ(::mkdir(web.c_str(), 0755), 0);
  EXPECT_TRUE(waitFor(*watcher).directories);
  // A sibling that is no workload also counts: the agent decides what it is.
  make("prod/other");
  EXPECT_TRUE(waitFor(*watcher).directories);
  // Not watched any more: quiet.
  watcher->watch({}, {});
  make("prod/third");
  EXPECT_FALSE(watcher->wait(100ms)->any());
}

}  // namespace
}  // namespace egressd::agent
