// The punt learner fuzzer's input: a sequence of egressd_dns_punt records,
// each a small header and its payload. Shared by the fuzzer (decode) and the
// seed writer (encode), so seeds are real connections the fuzzer mutates.
//
// Record: op (1 byte), ctl (1), advance_s (1), seq (4, big endian),
// payload_len (2, big endian), payload. A short tail is ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace egressd::testing::punt_records {

// op bits
constexpr uint8_t kTcp = 1u << 0;
constexpr uint8_t kIncomplete = 1u << 1;
constexpr uint8_t kEgress = 1u << 2;
constexpr uint8_t kSyn = 1u << 3;
constexpr uint8_t kCookieShift = 4;  // 2 bits: one of 4 connections
constexpr uint8_t kOtherResolver = 1u << 6;
constexpr uint8_t kInSequence = 1u << 7;  // seq: the stream's next one (the fuzzer keeps count)
// ctl bits
constexpr uint8_t kScopeMask = 3;         // which of the fuzzer's scopes
constexpr uint8_t kStoreFails = 1u << 7;  // the store refuses writes during this record

constexpr size_t kHeaderSize = 9;

struct Record {
  uint8_t op = 0;
  uint8_t ctl = 0;
  uint8_t advance_s = 0;
  uint32_t seq = 0;
  const uint8_t* payload = nullptr;
  size_t payload_len = 0;
};

inline void encode(std::vector<uint8_t>& out, uint8_t op, uint8_t ctl, uint8_t advance_s, uint32_t seq,
                   const std::vector<uint8_t>& payload) {
  const uint8_t header[kHeaderSize] = {op,
                                       ctl,
                                       advance_s,
                                       static_cast<uint8_t>(seq >> 24),
                                       static_cast<uint8_t>(seq >> 16),
                                       static_cast<uint8_t>(seq >> 8),
                                       static_cast<uint8_t>(seq),
                                       static_cast<uint8_t>(payload.size() >> 8),
                                       static_cast<uint8_t>(payload.size())};
  out.insert(out.end(), header, header + kHeaderSize);
  out.insert(out.end(), payload.begin(), payload.end());
}

// The records of `data`, a payload cut at the end of the input.
inline std::vector<Record> decode(const uint8_t* data, size_t size) {
  std::vector<Record> out;
  size_t at = 0;
  while (size - at >= kHeaderSize) {
    Record r;
    const uint8_t* h = data + at;
    r.op = h[0];
    r.ctl = h[1];
    r.advance_s = h[2];
    r.seq = uint32_t{h[3]} << 24 | uint32_t{h[4]} << 16 | uint32_t{h[5]} << 8 | h[6];
    const size_t want = size_t{h[7]} << 8 | h[8];
    at += kHeaderSize;
    r.payload = data + at;
    r.payload_len = want < size - at ? want : size - at;
    at += r.payload_len;
    out.push_back(r);
  }
  return out;
}

}  // namespace egressd::testing::punt_records
