#pragma once
// Bounds a policy file must keep before yaml-cpp builds its nodes. yaml-cpp
// 0.7 has inputs it cannot survive: a ',' outside a flow collection where a
// document's node is expected ("- a\n,", or "," alone) makes it start an
// empty document at the same place forever, until memory runs out (a
// 228-byte file took 2 GB); aliases can name collections of aliases (the
// "billion laughs"), which the reader would walk as many times as they
// expand. A first pass over the parser's events, which builds nothing,
// checks for these and for size, before the nodes are built.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace egressd::policy {

struct YamlLimits {
  size_t max_bytes = size_t{64} << 20;      // a file; an API object is at most 1.5 MB (etcd)
  size_t max_documents = 1'000'000;         // "---" separated documents in one file
  size_t max_nodes = 20'000'000;            // scalars and collections, aliases counted as what they expand to
  size_t max_alias_nodes = 1'000'000;       // nodes reached through aliases
};

struct YamlProblem {
  int line = 0;  // 1-based; 0 when the file as a whole
  std::string message;
};

// nullopt: within bounds. yaml-cpp's own errors (syntax, its depth guard)
// are thrown as YAML::Exception, as YAML::LoadAll would throw them.
std::optional<YamlProblem> checkYamlBounds(std::string_view text, const YamlLimits& limits = {});

}  // namespace egressd::policy
