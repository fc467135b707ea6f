#pragma once
// Istio's admission rules (pkg/config/validation) for the objects egressd
// enforces, on the typed model, so every source (files, Kubernetes) shares
// them. Field names in findings are relative to `spec` ("ports[1].name").
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/model.h"
#include "policy/yaml_reader.h"

namespace egressd::policy {

struct Findings {
  std::vector<FieldIssue> errors;    // any error rejects the object
  std::vector<FieldIssue> warnings;  // accepted, but worth telling the user
};

Findings validateMeta(const ObjectMeta& meta);
Findings validateServiceEntry(const ServiceEntry& entry);
Findings validateSidecar(const Sidecar& sidecar);
Findings validateWorkload(const Workload& workload);
Findings validateNamespace(const Namespace& ns);
Findings validateMeshConfig(const MeshConfig& mesh);
Findings validateGateway(const Gateway& gateway);
Findings validateVirtualService(const VirtualService& service);
Findings validateDestinationRule(const DestinationRule& rule);
Findings validateService(const Service& service);

void validateSelector(const std::optional<std::map<std::string, std::string>>& selector, Findings& out);

// Connection pool settings (validated, never enforced by egressd).
void validateConnectionPool(const ConnectionPool& pool, const std::string& field, Findings& out);

// A duration of at least 1ms, at ms precision; empty if valid.
std::string checkDuration(const std::string& text);

// exportTo of an object in `own_namespace`. "~" (no one) is allowed for
// ServiceEntries only, as in Istio.
enum class ExportToNone { kAllowed, kRejected };
void validateExportTo(const std::string& own_namespace, const std::vector<std::string>& export_to,
                      const std::string& field, Findings& out, ExportToNone none = ExportToNone::kRejected);

}  // namespace egressd::policy
