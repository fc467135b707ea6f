#pragma once
// Which objects get a place in the kernel maps when not all of them fit,
// decided before map sync by one stated rule rather than by which write
// happens to fail: older objects keep their place. Older means, in order:
// objects from files before API objects; files in path order, then by line;
// API objects by metadata.creationTimestamp; ties by namespace/name. An
// object either fits whole or is left out whole (never a part of its
// addresses), and each one left out is reported: kind, namespace/name, the
// map it did not fit, that map's capacity (egressctl status,
// egressd_objects_not_enforced{kind,map}, docs/LIMITS.md).
//  - Workloads (and the scopes they need): a workload left out gets no
//    `workloads` entry; its pods_parents entry makes the kernel deny it
//    (unknown_scope, --fail-mode).
//  - ServiceEntries: what only a left-out entry allows is denied.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "compiler/compiler.h"

namespace egressd::compiler {

struct MapCapacities {
  size_t workloads = EGRESSD_MAX_WORKLOADS;
  size_t scopes = EGRESSD_MAX_SCOPES;
  size_t prefixes = EGRESSD_MAX_DEST_PREFIXES;
  size_t ports = EGRESSD_MAX_DEST_PORTS;
  size_t dns_names = EGRESSD_MAX_DNS_NAMES;
};

struct NotEnforced {
  std::string kind;  // "ServiceEntry", "Workload"
  std::string name;  // "namespace/name"
  std::string map;   // the map it did not fit: "workloads", "scopes", "dest_prefixes", ...
  size_t capacity = 0;
  std::string effect;  // what the kernel does instead
};

// The rule: true when `a` keeps its place before `b`.
bool olderFirst(const policy::ObjectMeta& a, const policy::SourceRef& a_source, const policy::ObjectMeta& b,
                const policy::SourceRef& b_source);

struct AdmittedCompile {
  CompileOutput compiled;
  std::vector<NotEnforced> not_enforced;  // in the rule's order
};

// compilePolicy over the objects that fit `capacities`. When all fit (the
// common case) it is one compilePolicy and a size check. `entry_cache` as
// for compilePolicy.
AdmittedCompile compileWithinCapacity(const policy::PolicySnapshot& policy,
                                      const std::map<std::string, uint64_t>& workload_cgroups,
                                      const CompileOptions& options, const ScopeIds& previous,
                                      const GatewayIds& previous_gateways = {}, const ClassIds& previous_classes = {},
                                      const MapCapacities& capacities = {}, EntryCache* entry_cache = nullptr);

}  // namespace egressd::compiler
