#include "compiler/entry_cache.h"

#include <iterator>

namespace egressd::compiler {

void EntryCache::beginCompile() {
  used_.clear();
  hits_ = 0;
}

EntryCache::Entry* EntryCache::find(const std::string& key, const policy::ServiceEntry& entry) {
  auto it = entries_.find(key);
  if (it == entries_.end() || !(it->second.entry == entry)) return nullptr;
  used_.insert(key);
  ++hits_;
  return &it->second;
}

EntryCache::Entry& EntryCache::store(const std::string& key, Entry entry) {
  used_.insert(key);
  return entries_[key] = std::move(entry);
}

void EntryCache::useScopes(std::vector<ScopeView> scopes, const std::vector<std::string>& default_export_to) {
  if (scopes == scopes_ && default_export_to == default_export_to_) return;
  scopes_ = std::move(scopes);
  default_export_to_ = default_export_to;
  for (auto& [key, entry] : entries_) entry.imports_kept = false;
}

void EntryCache::endCompile() {
  std::erase_if(entries_, [&](const auto& kv) { return !used_.count(kv.first); });
}

}  // namespace egressd::compiler
