#pragma once
// The agent's parse of what the kernel punts: the same C parser as the
// kernel (bpf/lib/dns_parse.h), compiled with larger bounds (64 KiB messages,
// 128 records and labels), so valid answers beyond the kernel's bounds
// still parse. Only the fields the learner needs cross this interface.
#include <cstdint>
#include <string>
#include <vector>

namespace egressd::dns {

// The parser's statuses (enum dns_parse_status) that callers act on, named
// here so they need not include its C header (checked in wide_parse.cc).
inline constexpr int kParseOk = 0;
inline constexpr int kParseTruncated = 2;

struct WideAddress {
  uint8_t addr[16];  // IPv4 v4-mapped
  uint32_t ttl;
};

struct WideParse {
  int status = 0;  // enum dns_parse_status
  uint16_t id = 0;
  uint16_t qtype = 0;
  int label_count = 0;
  std::vector<uint8_t> rname;              // reversed wire name of the question
  std::vector<uint8_t> suffix_end;         // per label count - 1
  std::vector<uint64_t> suffix_hash;       // per label count - 1
  std::vector<WideAddress> addresses;      // only when status is OK or TRUNCATED
};

WideParse parseWide(const uint8_t* message, size_t len);
// A query: header and question only (dns_parse_query, as the kernel's
// egress hook reads the queries it sees); no addresses.
WideParse parseWideQuery(const uint8_t* message, size_t len);

}  // namespace egressd::dns
