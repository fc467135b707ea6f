#pragma once
// Destination addresses as the kernel stores them: one 128-bit space where
// IPv4 is v4-mapped (::ffff:a.b.c.d, prefixlen + 96), so a single LPM trie
// serves connect4, connect6 and v4-mapped IPv6.
#include <cstdint>
#include <optional>
#include <string>

#include "egressd/abi.h"

namespace egressd::compiler {

// "a.b.c.d", "a.b.c.d/n", "x::y", "x::y/n" -> canonical key (host bits
// cleared). nullopt for anything else; callers report it.
std::optional<egressd_prefix_key> parsePrefix(const std::string& text);

// A single address as a /128 key (v4 mapped), for lookups.
std::optional<egressd_prefix_key> parseAddress(const std::string& text);

// `key` truncated to `prefixlen` bits, host bits cleared.
egressd_prefix_key maskPrefix(const egressd_prefix_key& key, uint32_t prefixlen);

// Does `outer` contain every address of `inner`?
bool prefixCovers(const egressd_prefix_key& outer, const egressd_prefix_key& inner);

// Loopback and the unspecified address (Linux connects it to loopback).
bool isLoopback(const egressd_prefix_key& address);

// Back to the notation a user wrote: v4-mapped prefixes print as IPv4.
std::string formatPrefix(const egressd_prefix_key& key);

}  // namespace egressd::compiler
