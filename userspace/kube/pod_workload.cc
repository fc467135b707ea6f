#include "kube/pod_workload.h"

#include <cctype>

namespace egressd::kube {
namespace {

using json = nlohmann::json;

std::string stringAt(const json& object, const char* key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& objectAt(const json& object, const char* key) {
  static const json kEmpty = json::object();
  if (!object.is_object()) return kEmpty;
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

bool endsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Istio's cronJobNameRegexp: (.+)-\d{8,10}$ (a CronJob's Job is named after
// its scheduled time in minutes).
std::optional<std::string> cronJobOf(const std::string& job) {
  size_t digits = 0;
  while (digits < job.size() && std::isdigit(static_cast<unsigned char>(job[job.size() - 1 - digits]))) ++digits;
  if (digits < 8 || digits > 10 || job.size() < digits + 2 || job[job.size() - 1 - digits] != '-') return std::nullopt;
  return job.substr(0, job.size() - digits - 1);
}

}  // namespace

std::string istioWorkloadName(const json& pod) {
  const json& metadata = objectAt(pod, "metadata");
  const std::string name = stringAt(metadata, "name");
  if (stringAt(metadata, "generateName").empty()) return name;
  auto refs = metadata.find("ownerReferences");
  if (refs == metadata.end() || !refs->is_array()) return name;
  for (const json& ref : *refs) {
    if (!ref.is_object() || !ref.value("controller", false)) continue;
    const std::string kind = stringAt(ref, "kind");
    const std::string owner = stringAt(ref, "name");
    if (owner.empty()) return name;
    const std::string hash = stringAt(objectAt(metadata, "labels"), "pod-template-hash");
    if (kind == "ReplicaSet" && !hash.empty() && endsWith(owner, hash)) {
      // Istio trims "-<hash>"; a name that is only the hash keeps what is left.
      return endsWith(owner, "-" + hash) ? owner.substr(0, owner.size() - hash.size() - 1) : owner;
    }
    if (kind == "ReplicationController") {
      // OpenShift's DeploymentConfig names its pods' controller so.
      const std::string config = stringAt(objectAt(metadata, "labels"), "deploymentconfig");
      if (!config.empty()) return config;
    }
    if (kind == "Job") {
      if (auto cron = cronJobOf(owner)) return *cron;
    }
    return owner;
  }
  return name;
}

Result<std::optional<policy::Workload>> podWorkload(const json& pod) {
  if (!pod.is_object() || stringAt(pod, "kind") != "Pod") return fail("not a Pod object");
  const json& metadata = objectAt(pod, "metadata");
  policy::Workload workload;
  workload.meta.name = stringAt(metadata, "name");
  workload.meta.namespace_ = stringAt(metadata, "namespace");
  workload.meta.creation_timestamp = stringAt(metadata, "creationTimestamp");
  if (workload.meta.name.empty() || workload.meta.namespace_.empty()) {
    return fail("Pod without metadata.name or metadata.namespace");
  }
  const std::string phase = stringAt(objectAt(pod, "status"), "phase");
  if (phase == "Succeeded" || phase == "Failed") return std::optional<policy::Workload>{};
  for (const auto& [key, value] : objectAt(metadata, "labels").items()) {
    if (value.is_string()) workload.meta.labels[key] = value.get<std::string>();
  }
  policy::PodInfo info;
  info.uid = stringAt(metadata, "uid");
  if (info.uid.empty()) return fail("Pod " + workload.meta.namespace_ + "/" + workload.meta.name + " has no metadata.uid");
  info.qos_class = stringAt(objectAt(pod, "status"), "qosClass");
  info.istio_workload = istioWorkloadName(pod);
  const json& spec = objectAt(pod, "spec");
  info.host_network = spec.contains("hostNetwork") && spec["hostNetwork"].is_boolean() && spec["hostNetwork"].get<bool>();
  workload.pod = std::move(info);
  return std::optional<policy::Workload>(std::move(workload));
}

}  // namespace egressd::kube
