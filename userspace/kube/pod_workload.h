#pragma once
// A Pod of this node as a policy Workload: namespace, name and labels (for
// Sidecar workloadSelector and the audit label), the uid and QoS class its
// pod-level cgroup is named by (pod_cgroups.h), and the workload name Istio
// gives its traffic in telemetry. The rest of the pipeline (store, cgroup
// resolution, compiler) treats it as any Workload.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"
#include "policy/model.h"

namespace egressd::kube {

// Istio's workload name for a pod, as its injector derives it
// (GetDeployMetaFromPod): for a pod whose name was generated, its controller
// (metadata.ownerReferences with controller: true); a ReplicaSet whose name
// ends in "-<pod-template-hash>" is its Deployment, a Job named
// "<name>-<8 to 10 digits>" its CronJob; a StatefulSet, DaemonSet, Job or any
// other controller its own name. Otherwise the pod's name.
std::string istioWorkloadName(const nlohmann::json& pod);

// The workload a Pod object is, or none when it runs no more (status.phase
// Succeeded or Failed: its cgroup is gone or going, and it must leave the
// maps). Fails when the object is not a Pod with a name, namespace and uid.
Result<std::optional<policy::Workload>> podWorkload(const nlohmann::json& pod);

}  // namespace egressd::kube
