#include "dns/wide_parse.h"

#include <cstring>
#include <memory>

// Raised bounds; must come before the header (it only defaults them).
#define DNS_MSG_MAX 65535
#define DNS_BUF_SIZE 65536
#define DNS_MAX_LABELS 128
#define DNS_MAX_ANSWERS 128
#define DNS_MAX_ADDRS 128
#include <linux/types.h>
// In its own namespace: these structs differ from the kernel-bounds ones
// other translation units see, and must not be the same C++ types.
namespace egressd::dns::wide {
#include "../../bpf/lib/dns_parse.h"
}  // namespace egressd::dns::wide

namespace egressd::dns {

using namespace wide;

static_assert(kParseOk == DNS_PARSE_OK && kParseTruncated == DNS_PARSE_TRUNCATED);

namespace {

WideParse parseWith(const uint8_t* message, size_t len, bool query) {
  WideParse out;
  if (len > DNS_MSG_MAX) {
    out.status = DNS_PARSE_TOO_COMPLEX;
    return out;
  }
  auto msg = std::make_unique<dns_msg>();
  auto res = std::make_unique<dns_parse_result>();
  std::memset(msg.get(), 0, sizeof(*msg));
  std::memset(res.get(), 0, sizeof(*res));
  std::memcpy(msg->data, message, len);
  out.status = query ? dns_parse_query(msg.get(), static_cast<__u32>(len), res.get())
                     : dns_parse(msg.get(), static_cast<__u32>(len), res.get());
  out.id = res->id;
  out.qtype = res->qtype;
  out.label_count = res->label_count;
  out.rname.assign(res->rname, res->rname + res->rname_len);
  out.suffix_end.assign(res->suffix_end, res->suffix_end + res->label_count);
  out.suffix_hash.assign(res->suffix_hash, res->suffix_hash + res->label_count);
  for (int i = 0; i < res->addr_count; ++i) {
    WideAddress a{};
    std::memcpy(a.addr, res->addrs[i].addr, 16);
    a.ttl = res->addrs[i].ttl;
    out.addresses.push_back(a);
  }
  return out;
}

}  // namespace

WideParse parseWide(const uint8_t* message, size_t len) { return parseWith(message, len, false); }

WideParse parseWideQuery(const uint8_t* message, size_t len) { return parseWith(message, len, true); }

}  // namespace egressd::dns
