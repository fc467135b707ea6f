#include "agent/flow_view.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "common/abi_names.h"
#include "compiler/compiler.h"

namespace egressd::agent {

std::string addressText(const uint8_t (&addr)[16]) {
  char buf[INET6_ADDRSTRLEN] = {};
  static const uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(addr, kV4Mapped, sizeof(kV4Mapped)) == 0) {
    inet_ntop(AF_INET, addr + 12, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, addr, buf, sizeof(buf));
  }
  return buf;
}

FlowLabels describeFlow(const AppliedPolicy* applied, uint64_t cgroup_id, const uint8_t (&addr)[16], uint16_t port,
                        uint8_t protocol, uint32_t scope_id, const LearnedClasses& learned) {
  FlowLabels out;
  out.ip = addressText(addr);
  out.port = port;
  out.protocol = std::string(protocolName(protocol));
  out.workload = "cgroup:" + std::to_string(cgroup_id);
  if (!applied) return out;
  // Enforced workloads, then those left out of full maps (denied by their
  // pods_parents entry, under their own cgroup id).
  for (const auto* cgroups : {&applied->workload_cgroups, &applied->not_enforced_cgroups}) {
    for (const auto& [name, id] : *cgroups) {
      if (id != cgroup_id) continue;
      out.workload = name;
      out.namespace_ = name.substr(0, name.find('/'));
      out.name = name.substr(name.find('/') + 1);
      auto telemetry = applied->source_workloads.find(name);
      out.source_workload = telemetry != applied->source_workloads.end() ? telemetry->second : out.name;
    }
  }
  for (const auto& scope : applied->compiled.scopes) {
    if (scope.id != scope_id) continue;
    out.scope = scope.key;
    out.sidecar = scope.sidecar;
  }
  // A learned DNS name is the most specific host (the app asked for it).
  if (learned) {
    for (uint32_t class_id : learned(scope_id, addr)) {
      auto host = applied->compiled.host_classes.find(class_id);
      if (host != applied->compiled.host_classes.end()) {
        out.host = host->second;
        break;
      }
    }
  }
  if (!out.namespace_.empty()) {
    auto ex = compiler::explainConnection(applied->compiled, out.workload, out.ip, port, protocol);
    if (ex && ex->service_entry) {
      out.service_entry = ex->service_entry;
      const auto* se = policy::findServiceEntry(applied->snapshot, *ex->service_entry);
      if (se && !se->hosts.empty() && !out.host) out.host = se->hosts.front();
    }
  }
  return out;
}

std::string destinationService(const FlowLabels& labels, egressd_verdict verdict) {
  if (labels.host) return *labels.host;
  return verdict == EGRESSD_VERDICT_DENIED ? "BlackHoleCluster" : "PassthroughCluster";
}

}  // namespace egressd::agent
