#pragma once
// Stable hashes: ids derived from them survive restarts and recompiles, so
// they must never depend on std::hash or on the process.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace egressd::compiler {

inline uint64_t fnv1a64(const void* data, size_t size, uint64_t hash = 0xcbf29ce484222325ull) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

inline uint64_t fnv1a64(std::string_view text) { return fnv1a64(text.data(), text.size()); }

}  // namespace egressd::compiler
