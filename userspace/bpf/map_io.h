#pragma once
// Typed, error-reporting wrappers over the raw bpf map syscalls.
#include <bpf/bpf.h>

#include <cerrno>
#include <functional>
#include <string>

#include "bpf/errno_text.h"
#include "common/result.h"

namespace egressd::bpf {

template <typename K, typename V>
Status mapPut(int fd, const char* map_name, const K& key, const V& value) {
  if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0)
    return fail(errnoMessage(std::string("update map ") + map_name, errno));
  return Ok{};
}

// Deleting an absent key is not an error: map sync may retry a diff.
template <typename K>
Status mapDelete(int fd, const char* map_name, const K& key) {
  if (bpf_map_delete_elem(fd, &key) != 0 && errno != ENOENT)
    return fail(errnoMessage(std::string("delete from map ") + map_name, errno));
  return Ok{};
}

// Calls visit(key) for every key of a hash or LPM trie map.
template <typename K>
Status mapForEachKey(int fd, const char* map_name, const std::function<Status(const K&)>& visit) {
  K key{};
  K next{};
  const K* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    if (auto st = visit(key); !st) return st;
  }
  if (errno != ENOENT) return fail(errnoMessage(std::string("iterate map ") + map_name, errno));
  return Ok{};
}

}  // namespace egressd::bpf
