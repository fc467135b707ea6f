#pragma once
// What the agent last applied, as the admin API and metrics see it. The
// reload loop publishes a new immutable snapshot; readers never block it long.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/admission.h"
#include "compiler/compiler.h"
#include "policy/model.h"

namespace egressd::agent {

struct AppliedPolicy {
  uint64_t generation = 0;
  std::chrono::system_clock::time_point applied_at;
  double sync_seconds = 0;
  compiler::CompileOutput compiled;
  policy::PolicySnapshot snapshot;
  std::vector<policy::Rejection> rejected;
  std::vector<policy::Warning> warnings;
  std::map<std::string, uint64_t> workload_cgroups;       // "ns/name" -> cgroup id, of those enforced
  std::map<std::string, std::string> unresolved_workloads;  // "ns/name" -> why
  std::map<std::string, std::string> cgroup_paths;          // "ns/name" -> cgroup directory (excluded pods too)
  std::map<std::string, std::string> source_workloads;      // "ns/name" -> its name in telemetry (policy::telemetryName)
  std::vector<std::string> sync_errors;
  // Objects left out of full maps (compiler/admission.h), and enforced
  // workloads whose pods_parents entry could not be written either.
  std::vector<compiler::NotEnforced> not_enforced;
  // "ns/name" -> cgroup id of the workloads among them: their denials are
  // recorded under that id, and named in flows and the access log.
  std::map<std::string, uint64_t> not_enforced_cgroups;
};

class AgentState {
 public:
  void publish(std::shared_ptr<const AppliedPolicy> applied) {
    std::lock_guard lock(mutex_);
    applied_ = std::move(applied);
  }
  std::shared_ptr<const AppliedPolicy> current() const {
    std::lock_guard lock(mutex_);
    return applied_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const AppliedPolicy> applied_;
};

}  // namespace egressd::agent
