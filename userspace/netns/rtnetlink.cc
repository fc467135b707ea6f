#include "netns/rtnetlink.h"

#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

#include "bpf/errno_text.h"
#include "bpf/unique_fd.h"

namespace egressd::netns {
namespace {

using bpf::errnoMessage;
using bpf::UniqueFd;

Result<UniqueFd> openRtnetlink() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return fail(errnoMessage("open rtnetlink socket", errno));
  return fd;
}

// Sends one request and hands every reply message to on_message until the
// dump is done (or the single answer came). Netlink errors become failures.
Status transact(int fd, const void* request, size_t len, const std::function<void(const nlmsghdr*)>& on_message) {
  if (::send(fd, request, len, 0) < 0) return fail(errnoMessage("rtnetlink send", errno));
  std::array<char, 32768> buf{};
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errnoMessage("rtnetlink receive", errno));
    }
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) return Ok{};
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) return Ok{};
        return fail(errnoMessage("rtnetlink request", err->error));
      }
      on_message(h);
      if (!(h->nlmsg_flags & NLM_F_MULTI)) return Ok{};
    }
  }
}

template <typename Fn>
void forEachAttr(const rtattr* attr, int len, Fn fn) {
  for (; RTA_OK(attr, len); attr = RTA_NEXT(attr, len)) fn(attr);
}

uint32_t attrU32(const rtattr* attr) {
  uint32_t v = 0;
  if (RTA_PAYLOAD(attr) >= sizeof(v)) std::memcpy(&v, RTA_DATA(attr), sizeof(v));
  return v;
}

LinkInfo parseLink(const nlmsghdr* h) {
  const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  LinkInfo link;
  link.ifindex = static_cast<uint32_t>(ifi->ifi_index);
  link.loopback = ifi->ifi_type == ARPHRD_LOOPBACK;
  forEachAttr(IFLA_RTA(ifi), static_cast<int>(IFLA_PAYLOAD(h)), [&](const rtattr* attr) {
    switch (attr->rta_type) {
      case IFLA_IFNAME:
        link.name = static_cast<const char*>(RTA_DATA(attr));
        break;
      case IFLA_LINK:
        link.peer_ifindex = attrU32(attr);
        break;
      case IFLA_LINK_NETNSID:
        link.peer_netnsid = static_cast<int32_t>(attrU32(attr));
        break;
      case IFLA_MASTER:
        link.master_ifindex = attrU32(attr);
        break;
      case IFLA_LINKINFO:
        forEachAttr(static_cast<const rtattr*>(RTA_DATA(attr)), static_cast<int>(RTA_PAYLOAD(attr)),
                    [&](const rtattr* info) {
                      if (info->rta_type == IFLA_INFO_KIND) link.kind = static_cast<const char*>(RTA_DATA(info));
                    });
        break;
      default:
        break;
    }
  });
  return link;
}

// A dump request of `type` whose body is Body, every family (AF_UNSPEC is
// the zeroed body's), each answer message handed to on_message.
template <typename Body>
Status dump(uint16_t type, const std::function<void(const nlmsghdr*)>& on_message) {
  auto fd = openRtnetlink();
  if (!fd) return fail(fd.error());
  struct {
    nlmsghdr header;
    Body body;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = type;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  return transact(fd->get(), &request, sizeof(request), on_message);
}

}  // namespace

Result<std::vector<LinkInfo>> listLinks() {
  std::vector<LinkInfo> links;
  auto st = dump<ifinfomsg>(RTM_GETLINK, [&](const nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) links.push_back(parseLink(h));
  });
  if (!st) return fail("list network interfaces: " + st.error());
  return links;
}

Result<std::vector<Address>> listAddresses(uint32_t ifindex) {
  std::vector<Address> out;
  auto st = dump<ifaddrmsg>(RTM_GETADDR, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR) return;
    const auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
    if (ifa->ifa_index != ifindex || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)) return;
    // IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
    // peer's on a point-to-point link); IPv6 has only IFA_ADDRESS.
    const unsigned short wanted = ifa->ifa_family == AF_INET ? IFA_LOCAL : IFA_ADDRESS;
    forEachAttr(IFA_RTA(ifa), static_cast<int>(IFA_PAYLOAD(h)), [&](const rtattr* attr) {
      if (attr->rta_type != wanted) return;
      Address a{};
      if (ifa->ifa_family == AF_INET && RTA_PAYLOAD(attr) == 4) {
        a[10] = a[11] = 0xff;
        std::memcpy(a.data() + 12, RTA_DATA(attr), 4);
      } else if (ifa->ifa_family == AF_INET6 && RTA_PAYLOAD(attr) == 16) {
        std::memcpy(a.data(), RTA_DATA(attr), 16);
      } else {
        return;
      }
      out.push_back(a);
    });
  });
  if (!st) return fail("list interface addresses: " + st.error());
  return out;
}

Result<UniqueFd> watchAddresses() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!fd.valid()) return fail(errnoMessage("open rtnetlink socket", errno));
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0)
    return fail(errnoMessage("subscribe to address changes", errno));
  return fd;
}

bool drainAddressEvents(int fd) {
  std::array<char, 8192> buf{};
  bool any = false;
  for (;;) {
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {  // the kernel dropped some: read again from scratch
      any = true;
      continue;
    }
    return any;
  }
}

Result<int32_t> netnsIdOf(int netns_fd) {
  auto fd = openRtnetlink();
  if (!fd) return fail(fd.error());
  struct {
    nlmsghdr header;
    rtgenmsg body;
    char pad[3];
    rtattr attr;
    uint32_t value;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETNSID;
  request.header.nlmsg_flags = NLM_F_REQUEST;
  request.body.rtgen_family = AF_UNSPEC;
  request.attr.rta_type = NETNSA_FD;
  request.attr.rta_len = RTA_LENGTH(sizeof(uint32_t));
  request.value = static_cast<uint32_t>(netns_fd);
  static_assert(offsetof(decltype(request), attr) == NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtgenmsg))));
  int32_t id = -1;
  auto st = transact(fd->get(), &request, sizeof(request), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNSID) return;
    const auto* body = static_cast<const rtgenmsg*>(NLMSG_DATA(h));
    const auto* first = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(body) + NLMSG_ALIGN(sizeof(rtgenmsg)));
    const int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(rtgenmsg))));
    forEachAttr(first, len, [&](const rtattr* attr) {
      if (attr->rta_type == NETNSA_NSID) id = static_cast<int32_t>(attrU32(attr));
    });
  });
  if (!st) return fail("ask a network namespace's id: " + st.error());
  return id;
}

}  // namespace egressd::netns
