#pragma once
// The agent's command line (DESIGN.md "Contracts": names and defaults).
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace egressd::agent {

struct AgentOptions {
  std::string policy_dir;
  // The Kubernetes API as the policy source (with --policy-dir too, its
  // objects, e.g. local Workloads, are added to the API's).
  std::string kubeconfig;
  bool in_cluster = false;
  std::string istio_namespace = "istio-system";  // where the mesh ConfigMap lives
  std::string istio_revision;                     // the mesh ConfigMap is istio-REV
  std::string node_name;  // required with the API: its pods are the workloads
  // Pods left alone (also: Namespace label egressd.io/enforce: "false").
  // Given on the command line, the list replaces the default.
  std::vector<std::string> exclude_namespaces = {"kube-system"};
  // The agent's own pod (downward API env POD_NAMESPACE and POD_NAME), left
  // alone: "ns/name", empty outside a pod. Its uid (POD_UID) finds its cgroup
  // before its Pod is listed.
  std::string own_pod;
  std::string own_pod_uid;
  std::string cgroup_root;  // empty: the cgroup2 mount root
  std::string bpffs = "/sys/fs/bpf/egressd";
  std::string admin_addr = "127.0.0.1:9477";
  std::vector<std::string> dns_servers;  // IP[:PORT]; empty: resolv.conf
  std::vector<std::string> cluster_cidrs;
  // A learned IP stays allowed for its record's TTL clamped to these
  // (docs/DNS_LEARNING.md explains the defaults).
  uint32_t dns_min_ttl_s = 5;
  uint32_t dns_max_ttl_s = 3600;
  // Observability (docs/OBSERVABILITY.md).
  std::string access_log;              // empty or "-": stdout
  double access_log_rate = 100;        // lines per second, then counted, not written
  bool audit = false;                  // mesh-wide audit mode
  bool istio_metrics = false;          // also istio_tcp_connections_{opened,closed}_total
  bool flow_stats = true;              // off only for benchmarks
  // Kernel BPF run-time stats (BPF_ENABLE_STATS) while the agent runs: they
  // are node-wide, every BPF program on the node pays for them, so opt-in.
  bool bpf_run_stats = false;
  // The TC backstop on workload interfaces: "auto" (tcx, else clsact),
  // "tcx", "clsact" or "off".
  std::string tc_mode = "auto";
  // A cgroup below a pods parent (the parent directory of registered
  // workloads) that no workload names: "deny" (EGRESSD_REASON_UNKNOWN_WORKLOAD)
  // or "allow" (untouched).
  std::string unknown_pods = "deny";
  std::string fail_mode = "closed";  // --fail-mode: closed or open (bpf/lib/policy.h)
  std::string log_level = "info";
  bool uninstall = false;
};

// Parses argv; on --help or a bad flag returns an error whose message is
// what to print, and sets `exit_code` (0 for --help).
Result<AgentOptions> parseAgentOptions(int argc, char** argv, int& exit_code);

}  // namespace egressd::agent
