// A workload's own addresses as the TC backstop gets them (netns/host_side.h,
// netns/rtnetlink.h): read inside the workload's namespace from its
// interface only, every scope, IPv4 v4-mapped; and the watch socket opened
// there, which keeps hearing that namespace's address changes after the
// thread that opened it is gone.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernel/kernel_env.h"
#include "netns/host_side.h"
#include "netns/in_netns.h"
#include "netns/rtnetlink.h"

namespace egressd::ktest {
namespace {

netns::Address mapped(const char* text) {
  netns::Address a{};
  if (inet_pton(AF_INET6, text, a.data()) == 1) return a;
  a[10] = a[11] = 0xff;
  EXPECT_EQ(1, inet_pton(AF_INET, text, a.data() + 12)) << text;
  return a;
}

bool has(const std::vector<netns::Address>& list, const char* text) {
  return std::find(list.begin(), list.end(), mapped(text)) != list.end();
}

bool anyLinkLocal(const std::vector<netns::Address>& list) {
  return std::any_of(list.begin(), list.end(),
                     [](const netns::Address& a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; });
}

// Whether the watch hears something within a second.
bool hears(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 1000) > 0 && netns::drainAddressEvents(fd);
}

class WorkloadAddressesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EGRESSD_REQUIRE_KERNEL();
    name_ = "egd-addr-" + std::to_string(::getpid());
    ip("netns add " + name_);
    ip("-n " + name_ + " link add e0 type veth peer name e1");
    ip("-n " + name_ + " link set lo up");
    ip("-n " + name_ + " link set e0 up");
    ip("-n " + name_ + " link set e1 up");
    ip("-n " + name_ + " addr add 10.77.0.2/24 dev e0");
    ip("-n " + name_ + " -6 addr add 2001:db8:77::2/64 dev e0 nodad");
    ip("-n " + name_ + " addr add 10.77.1.2/24 dev e1");  // another interface's
    fd_ = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
    auto st = netns::runInNetns(fd_, [&]() -> Status {
      auto links = netns::listLinks();
      if (!links) return fail(links.error());
      for (const auto& l : *links)
        if (l.name == "e0") ifindex_ = l.ifindex;
      return Ok{};
    });
    ASSERT_TRUE(st.ok()) << st.error();
    ASSERT_GT(ifindex_, 0u);
  }

  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    if (!name_.empty()) std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
  }

  void ip(const std::string& args) { ASSERT_EQ(0, std::system(("ip " + args).c_str())) << "ip " << args; }

  std::vector<netns::Address> read() {
    auto got = netns::readWorkloadAddresses(fd_, ifindex_, false);
    EXPECT_TRUE(got.ok()) << got.error();
    return got.ok() ? got->addresses : std::vector<netns::Address>{};
  }

  std::string name_;
  int fd_ = -1;
  uint32_t ifindex_ = 0;
};

TEST_F(WorkloadAddressesTest, ItsInterfaceOnlyEveryScope) {
  auto got = netns::readWorkloadAddresses(fd_, ifindex_, true);
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_TRUE(has(got->addresses, "10.77.0.2"));
  EXPECT_TRUE(has(got->addresses, "2001:db8:77::2"));
  EXPECT_TRUE(anyLinkLocal(got->addresses)) << "the link-local address is a source too";
  EXPECT_FALSE(has(got->addresses, "10.77.1.2")) << "another interface's address";
  EXPECT_FALSE(has(got->addresses, "127.0.0.1"));
  EXPECT_FALSE(has(got->addresses, "::1"));
  EXPECT_TRUE(got->watch.valid());
}

TEST_F(WorkloadAddressesTest, TheWatchHearsAddressesAddedAndRemovedLater) {
  auto got = netns::readWorkloadAddresses(fd_, ifindex_, true);
  ASSERT_TRUE(got.ok()) << got.error();
  const int watch = got->watch.get();
  netns::drainAddressEvents(watch);  // the link-local address's DAD, if it was still running

  ip("-n " + name_ + " addr add 10.77.0.9/24 dev e0");
  EXPECT_TRUE(hears(watch)) << "an IPv4 address added";
  EXPECT_TRUE(has(read(), "10.77.0.9"));
  ip("-n " + name_ + " -6 addr add 2001:db8:77::9/64 dev e0 nodad");
  EXPECT_TRUE(hears(watch)) << "an IPv6 address added";
  EXPECT_TRUE(has(read(), "2001:db8:77::9"));
  ip("-n " + name_ + " addr del 10.77.0.9/24 dev e0");
  EXPECT_TRUE(hears(watch)) << "an address removed";
  const auto after = read();
  EXPECT_FALSE(has(after, "10.77.0.9"));
  EXPECT_TRUE(has(after, "10.77.0.2"));
  EXPECT_FALSE(netns::drainAddressEvents(watch)) << "nothing more to hear";
}

}  // namespace
}  // namespace egressd::ktest
