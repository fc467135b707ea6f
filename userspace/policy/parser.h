#pragma once
// Istio YAML (and local Workloads) in, typed and validated objects out.
// Invalid objects become Rejections; nothing here throws.
#include <filesystem>
#include <map>
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
  std::vector<Namespace> namespaces;  // core v1 (labels: egressd.io/audit)
  std::vector<Gateway> gateways;
  std::vector<VirtualService> virtual_services;
  std::vector<DestinationRule> destination_rules;
  std::vector<Service> services;  // core v1 (file mode: the gateway's address)
  std::vector<Rejection> rejected;
  // Analyzer-style notes on accepted objects, plus one warning of kind "File"
  // per unreadable file saying why (e.g. the YAML syntax error and its line).
  std::vector<Warning> warnings;
  // Files that could not be read or parsed at all (I/O error, YAML syntax
  // error): the store keeps what they defined before.
  std::vector<std::string> unreadable_files;
};

// Every document of one multi-document YAML (or JSON) text. Documents of kinds
// egressd does not use are skipped; a document without a kind is rejected.
// Accepted objects carry the line where their document starts; a rejection
// carries the line of the first offending field.
ParsedDocuments parseYaml(std::string_view text, const std::string& file_name);
// The same, with the mesh config read from the ConfigMap named
// `mesh_config_map` ("istio-REV" for a revision) instead of "istio".
ParsedDocuments parseYaml(std::string_view text, const std::string& file_name, const std::string& mesh_config_map);

// Every *.yaml / *.yml under `dir` (recursively, in path order; dotfiles and
// editor temporaries skipped), merged. A missing directory is unreadable.
ParsedDocuments loadPolicyDir(const std::filesystem::path& dir);

// loadPolicyDir for a directory read again on every change: a file whose
// bytes did not change is not parsed again (parsing dominates a reload of
// thousands of objects; reading and comparing the bytes is cheap and, unlike
// mtime, cannot miss two writes within one timestamp tick).
class PolicyDirReader {
 public:
  explicit PolicyDirReader(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ParsedDocuments read();
  size_t lastParsedFiles() const { return last_parsed_files_; }  // parsed (not cached) by the last read()

 private:
  struct CachedFile {
    std::string text;
    ParsedDocuments parsed;
  };
  std::filesystem::path dir_;
  std::map<std::string, CachedFile> cache_;
  size_t last_parsed_files_ = 0;
};

// Appends `from` to `into` (the first mesh config wins; a later one is rejected).
void mergeDocuments(ParsedDocuments& into, ParsedDocuments&& from);

}  // namespace egressd::policy
