#pragma once
// The objects in force. Each apply() replaces the state with a fresh parse,
// except that invalid input never removes a working policy: an object that is
// rejected now keeps its previous valid version, and objects from a file that
// could not be read at all keep theirs.
#include <cstddef>
#include <optional>
#include <vector>

#include "policy/model.h"
#include "policy/parser.h"

namespace egressd::policy {

class PolicyStore {
 public:
  struct ApplyReport {
    std::vector<Rejection> rejected;
    std::vector<Warning> warnings;
    size_t objects = 0;  // objects of every kind in force (mesh config aside)
  };

  ApplyReport apply(const ParsedDocuments& fresh);
  const PolicySnapshot& snapshot() const { return snapshot_; }

 private:
  PolicySnapshot snapshot_;
  // Where the mesh config in force came from (an API object has no file);
  // none: the built-in default.
  std::optional<SourceRef> mesh_source_;
};

}  // namespace egressd::policy
