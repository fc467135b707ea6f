#pragma once
// Istio YAML (and local Workloads) in, typed and validated objects out.
// Invalid objects become Rejections; nothing here throws.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model.h"

namespace egressd::policy {

struct ParsedDocuments {
  std::optional<MeshConfig> mesh;
  SourceRef mesh_source;
  std::vector<ServiceEntry> service_entries;
  std::vector<Sidecar> sidecars;
  std::vector<Workload> workloads;
  std::vector<Rejection> rejected;
  std::vector<Warning> warnings;
  // Files that could not be read or parsed at all (I/O error, YAML syntax
  // error): the store keeps what they defined before.
  std::vector<std::string> unreadable_files;
};

// Every document of one multi-document YAML text. Documents of kinds egressd
// does not use are skipped; a document without a kind is rejected.
ParsedDocuments parseYaml(std::string_view text, const std::string& file_name);

// Every *.yaml / *.yml under `dir` (recursively, in path order; dotfiles and
// editor temporaries skipped), merged. A missing directory is unreadable.
ParsedDocuments loadPolicyDir(const std::filesystem::path& dir);

// Appends `from` to `into` (the first mesh config wins; a later one is rejected).
void mergeDocuments(ParsedDocuments& into, ParsedDocuments&& from);

}  // namespace egressd::policy
