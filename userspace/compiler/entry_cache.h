#pragma once
// What compilePolicy() works out for one ServiceEntry, kept from one compile
// to the next: an entry that did not change is not worked out again under
// scopes that did not change (its destinations, and what each scope imports
// of it). At 10,000 entries and 50 scopes that was most of a compile, for
// every change of any one object. The cache only saves work: a compile with
// it gives exactly what one without it gives (tests/unit/compiler_entry_cache_test.cc).
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "compiler/destinations.h"
#include "compiler/visibility.h"
#include "policy/model.h"

namespace egressd::compiler {

class EntryCache {
 public:
  // What the scopes' imports depend on, besides the entry: each scope's
  // namespace and Sidecar (in compile order) and the mesh's exportTo default.
  struct ScopeView {
    std::string namespace_;
    std::optional<policy::Sidecar> sidecar;
    bool operator==(const ScopeView&) const = default;
  };

  struct Entry {
    policy::ServiceEntry entry;
    std::vector<Destination> destinations;
    std::vector<std::string> warnings, errors;  // of serviceEntryDestinations()
    std::vector<std::optional<Import>> imports;  // per scope of the context; empty if not worked out
    bool imports_kept = false;  // worked out alone (no host collision): valid while the scopes stay
  };

  void beginCompile();
  // The cached work for `entry` if it is the same entry; nullptr otherwise.
  Entry* find(const std::string& key, const policy::ServiceEntry& entry);
  Entry& store(const std::string& key, Entry entry);
  // The scopes of this compile: imports worked out under others are dropped.
  void useScopes(std::vector<ScopeView> scopes, const std::vector<std::string>& default_export_to);
  // Forgets the entries this compile neither found nor stored (removed ones).
  void endCompile();

  size_t hits() const { return hits_; }  // entries reused by the last compile

 private:
  std::vector<ScopeView> scopes_;
  std::vector<std::string> default_export_to_;
  std::map<std::string, Entry> entries_;  // "ns/name"
  std::set<std::string> used_;            // keys found or stored by this compile
  size_t hits_ = 0;
};

}  // namespace egressd::compiler
