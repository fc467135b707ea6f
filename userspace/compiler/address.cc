#include "compiler/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace egressd::compiler {
namespace {

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool isV4Mapped(const egressd_prefix_key& key) {
  return key.prefixlen >= 96 && std::memcmp(key.addr, kV4MappedPrefix, 12) == 0;
}

// Parses the address part; sets `max_len` to 32 or 128 as written.
std::optional<egressd_prefix_key> parseBare(const std::string& text, uint32_t& max_len) {
  egressd_prefix_key key{};
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    std::memcpy(key.addr, kV4MappedPrefix, 12);
    std::memcpy(key.addr + 12, &v4, 4);
    max_len = 32;
  } else if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(key.addr, &v6, 16);
    max_len = 128;
  } else {
    return std::nullopt;
  }
  key.prefixlen = 128;
  return key;
}

}  // namespace

egressd_prefix_key maskPrefix(const egressd_prefix_key& key, uint32_t prefixlen) {
  egressd_prefix_key out{};
  out.prefixlen = prefixlen > 128 ? 128 : prefixlen;
  for (uint32_t i = 0; i < 16; ++i) {
    const uint32_t bit = i * 8;
    if (bit + 8 <= out.prefixlen) {
      out.addr[i] = key.addr[i];
    } else if (bit < out.prefixlen) {
      out.addr[i] = key.addr[i] & static_cast<uint8_t>(0xff << (8 - (out.prefixlen - bit)));
    }
  }
  return out;
}

std::optional<egressd_prefix_key> parsePrefix(const std::string& text) {
  const auto slash = text.find('/');
  uint32_t max_len = 0;
  auto key = parseBare(text.substr(0, slash), max_len);
  if (!key) return std::nullopt;
  uint32_t len = max_len;
  if (slash != std::string::npos) {
    const char* first = text.data() + slash + 1;
    const char* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, len);
    if (ec != std::errc() || ptr != last || first == last || len > max_len) return std::nullopt;
  }
  return maskPrefix(*key, len + (128 - max_len));
}

std::optional<egressd_prefix_key> parseAddress(const std::string& text) {
  uint32_t max_len = 0;
  return parseBare(text, max_len);
}

bool prefixCovers(const egressd_prefix_key& outer, const egressd_prefix_key& inner) {
  if (outer.prefixlen > inner.prefixlen) return false;
  const auto masked = maskPrefix(inner, outer.prefixlen);
  return std::memcmp(masked.addr, outer.addr, 16) == 0;
}

bool isLoopback(const egressd_prefix_key& address) {
  static constexpr egressd_prefix_key kLocal[] = {
      {128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},              // ::1
      {128, {}},                                                           // ::
      {104, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0}},     // 127/8
      {128, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}},       // 0.0.0.0
  };
  for (const auto& local : kLocal) {
    if (prefixCovers(local, address)) return true;
  }
  return false;
}

std::string formatPrefix(const egressd_prefix_key& key) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (isV4Mapped(key)) {
    inet_ntop(AF_INET, key.addr + 12, buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(key.prefixlen - 96);
  }
  inet_ntop(AF_INET6, key.addr, buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(key.prefixlen);
}

}  // namespace egressd::compiler
