// libFuzzer over the user-space twin of the kernel DNS parser (same source).
// Besides ASan/UBSan, it checks what the kernel relies on: no read at or past
// the message length (masking would hide it from ASan), bounded counts, the
// suffix table consistent with the name, and a deterministic result.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define DNS_PARSE_CHECK_READ(off, len)                                   \
  do {                                                                   \
    if ((off) >= (len)) {                                                \
      std::fprintf(stderr, "read at %u past length %u\n", (unsigned)(off), (unsigned)(len)); \
      std::abort();                                                      \
    }                                                                    \
  } while (0)
#include "../../bpf/lib/dns_parse.h"

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dns_msg msg;  // DNS_BUF_SIZE: reads are masked to it
  static dns_parse_result res, again;
  size_t n = size < sizeof(msg.data) ? size : sizeof(msg.data);
  std::memset(&msg, 0, sizeof(msg));
  std::memcpy(msg.data, data, n);
  std::memset(&res, 0xa5, sizeof(res));  // stale data must not leak into results
  int rc = dns_parse(&msg, static_cast<__u32>(size), &res);

  check(rc == res.status && rc >= 0 && rc < DNS_PARSE_STATUS_COUNT, "status");
  check(res.addr_count <= DNS_MAX_ADDRS, "addr_count bound");
  check(rc == DNS_PARSE_OK || res.addr_count == 0, "addresses only when OK");
  check(res.label_count <= DNS_MAX_LABELS, "label_count bound");
  check(res.rname_len < DNS_RNAME_SIZE, "rname bound");
  if (rc == DNS_PARSE_OK || rc == DNS_PARSE_TRUNCATED) {
    check(res.rname_len + 1 <= DNS_NAME_MAX, "name within RFC length");
    __u32 end = 0;
    for (int k = 0; k < res.label_count; ++k) {
      check(res.suffix_end[k] > end, "suffix ends grow");
      __u8 llen = res.rname[end];
      check(llen >= 1 && llen <= DNS_LABEL_MAX && end + 1 + llen == res.suffix_end[k], "label framing");
      for (__u32 i = end + 1; i < res.suffix_end[k]; ++i) check(!(res.rname[i] >= 'A' && res.rname[i] <= 'Z'), "lowercase");
      check(res.suffix_hash[k] == dns_rname_hash(res.rname, res.suffix_end[k]), "suffix hash");
      end = res.suffix_end[k];
    }
    check(end == res.rname_len, "suffixes cover the name");
    for (int i = 0; i < res.addr_count; ++i)
      check(res.addrs[i].type == DNS_TYPE_A || res.addrs[i].type == DNS_TYPE_AAAA, "address type");
  }
  std::memset(&again, 0, sizeof(again));
  dns_parse(&msg, static_cast<__u32>(size), &again);
  check(again.status == res.status && again.addr_count == res.addr_count && again.rname_len == res.rname_len &&
            std::memcmp(again.rname, res.rname, res.rname_len) == 0 &&
            std::memcmp(again.addrs, res.addrs, sizeof(dns_addr) * res.addr_count) == 0,
        "deterministic");
  // The query side (cgroup_skb/egress) on the same bytes: bounded reads (the
  // read hook), and a parsed question is consistent with the answer side.
  static dns_parse_result query;
  std::memset(&query, 0, sizeof(query));
  if (dns_parse_query(&msg, static_cast<__u32>(size), &query) == DNS_PARSE_OK) {
    check(query.label_count > 0 || query.rname_len == 0, "query name");
    check(query.rname_len <= DNS_NAME_MAX - 1, "query name length");
  }
  return 0;
}
