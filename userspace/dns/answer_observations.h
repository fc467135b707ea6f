#pragma once
// Names that audit-mode workloads looked up and their scope does not allow,
// by (scope, IP), from the answers the kernel hands over for them (never
// learned): `egressctl suggest` then names the host the workload asked for
// instead of inventing one for its address. Bounded: past `capacity` the
// least recently seen address is forgotten.
#include <array>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "egressd/abi.h"

namespace egressd::dns {

class AnswerObservations {
 public:
  using Address = std::array<uint8_t, 16>;  // IPv4 v4-mapped
  explicit AnswerObservations(size_t capacity = 8192) : capacity_(capacity) {}

  // The answer in a punt record flagged EGRESSD_DNS_PUNT_F_OBSERVED: its
  // question name for each address of its CNAME chain. False if unparsable.
  bool recordAnswer(const egressd_dns_punt& punt);
  void record(uint32_t scope_id, const Address& address, const std::string& name);
  // The name last seen for the address in the scope's answers.
  std::optional<std::string> nameOf(uint32_t scope_id, const Address& address) const;
  size_t size() const;

 private:
  using Key = std::pair<uint32_t, Address>;
  struct Entry {
    std::string name;
    std::list<Key>::iterator recency;
  };
  const size_t capacity_;
  mutable std::mutex mutex_;
  std::map<Key, Entry> entries_;
  std::list<Key> recency_;  // most recent first
};

// "\3com\7example\3api" (reversed wire name, bpf/lib/dns_parse.h) -> "api.example.com".
std::string dottedName(const uint8_t* rname, size_t len);

}  // namespace egressd::dns
