#include "agent/options.h"

#include <CLI/CLI.hpp>
#include <cstdlib>

namespace egressd::agent {

Result<AgentOptions> parseAgentOptions(int argc, char** argv, int& exit_code) {
  AgentOptions options;
  if (const char* node = std::getenv("NODE_NAME")) options.node_name = node;
  const char* pod_namespace = std::getenv("POD_NAMESPACE");
  const char* pod_name = std::getenv("POD_NAME");
  if (pod_namespace && pod_name && *pod_namespace && *pod_name)
    options.own_pod = std::string(pod_namespace) + "/" + pod_name;
  if (const char* uid = std::getenv("POD_UID")) options.own_pod_uid = uid;
  const bool in_a_pod = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;

  CLI::App app{"egressd: enforces Istio's egress policy in the kernel, per workload, at connect()"};
  app.add_option("--policy-dir", options.policy_dir,
                 "Read Istio YAML and local Workloads from DIR, re-apply on change");
  app.add_option("--kubeconfig", options.kubeconfig, "Watch the Kubernetes API with this kubeconfig");
  app.add_flag("--in-cluster", options.in_cluster,
               "Watch the Kubernetes API from inside a pod (the default in a pod without --policy-dir)");
  app.add_option("--istio-namespace", options.istio_namespace, "Where the mesh ConfigMap istio (istio-REV) lives")
      ->capture_default_str();
  app.add_option("--istio-revision", options.istio_revision, "Read the mesh config from ConfigMap istio-REV");
  app.add_option("--node-name", options.node_name,
                 "This node's name: its pods (spec.nodeName) are the workloads (default $NODE_NAME)");
  app.add_option("--exclude-namespace", options.exclude_namespaces,
                 "Pods of this namespace are left alone, repeatable; given, replaces the default (also: Namespace "
                 "label egressd.io/enforce: \"false\")")
      ->capture_default_str();
  app.add_option("--cgroup-root", options.cgroup_root,
                 "cgroup v2 directory the hooks attach to (default: the cgroup2 mount root)");
  app.add_option("--bpffs", options.bpffs, "Where programs, links and maps are pinned")->capture_default_str();
  app.add_option("--admin-addr", options.admin_addr, "HTTP address for /metrics, /readyz and egressctl")
      ->capture_default_str();
  app.add_option("--dns-server", options.dns_servers,
                 "Trusted resolver IP[:PORT], repeatable (default: resolv.conf nameservers)");
  app.add_option("--cluster-cidr", options.cluster_cidrs,
                 "In-cluster destination CIDR: always allowed, never redirected; repeatable");
  app.add_option("--dns-min-ttl", options.dns_min_ttl_s,
                 "Seconds a learned IP stays allowed at least (TTL 0 answers, clients that connect a little later)")
      ->capture_default_str();
  app.add_option("--dns-max-ttl", options.dns_max_ttl_s,
                 "Seconds a learned IP stays allowed at most (bounds stale IPs)")
      ->capture_default_str();
  app.add_option("--access-log", options.access_log, "Write the JSON-lines access log here (default stdout)");
  app.add_option("--access-log-rate", options.access_log_rate,
                 "Access-log lines per second; beyond it lines are counted, not written")
      ->capture_default_str();
  app.add_flag("--audit", options.audit, "Audit mode mesh-wide: would-be denials are allowed and recorded");
  app.add_flag("--istio-metrics", options.istio_metrics,
               "Also export istio_tcp_connections_opened_total/closed_total (reporter=source)");
  app.add_flag("!--no-flow-stats", options.flow_stats, "Disable per-flow stats and events (benchmark baseline)");
  app.add_flag("--bpf-run-stats", options.bpf_run_stats,
               "Turn the kernel's BPF run-time stats on while the agent runs, for "
               "egressd_bpf_program_run{s,_seconds}_total; node-wide: every BPF program on the node pays for them");
  app.add_option("--tc-mode", options.tc_mode,
                 "TC backstop and byte counters on workload interfaces: auto (tcx, else clsact), tcx, clsact, off")
      ->check(CLI::IsMember({"auto", "tcx", "clsact", "off"}))
      ->capture_default_str();
  app.add_option("--unknown-pods", options.unknown_pods,
                 "A cgroup below a registered workload's parent directory that no workload names: deny (only "
                 "trusted DNS and cluster CIDRs; reason unknown_workload) or allow (untouched)")
      ->check(CLI::IsMember({"deny", "allow"}))
      ->capture_default_str();
  app.add_option("--fail-mode", options.fail_mode,
                 "A workload the agent enforces whose state is missing (no room in a map, its scope not active): "
                 "closed (denied, reason unknown_scope) or open (passes as audit: counted and recorded, never "
                 "silently); docs/LIMITS.md")
      ->check(CLI::IsMember({"closed", "open"}))
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn or error")->capture_default_str();
  app.add_flag("--uninstall", options.uninstall,
               "Detach the programs and remove every pin under --bpffs, then exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = e.get_exit_code();
    return fail(e.get_exit_code() == 0 ? app.help() : std::string(e.what()) + "\nRun with --help for usage.");
  }
  if (options.dns_min_ttl_s > options.dns_max_ttl_s) {
    exit_code = 2;
    return fail("--dns-min-ttl must not be above --dns-max-ttl");
  }
  if (!options.kubeconfig.empty() && options.in_cluster) {
    exit_code = 2;
    return fail("--kubeconfig and --in-cluster are two ways to reach the API: use one");
  }
  // In a pod the API is the default source, unless a policy directory is given.
  if (in_a_pod && options.kubeconfig.empty() && options.policy_dir.empty()) options.in_cluster = true;
  if (!options.uninstall && options.policy_dir.empty() && options.kubeconfig.empty() && !options.in_cluster) {
    exit_code = 2;
    return fail("a policy source is required: --policy-dir DIR, --kubeconfig FILE or --in-cluster");
  }
  if (!options.uninstall && (!options.kubeconfig.empty() || options.in_cluster) && options.node_name.empty()) {
    exit_code = 2;
    return fail("with the Kubernetes API, this node's name is required (its pods are the workloads): --node-name "
                "NAME, or NODE_NAME from the downward API (fieldRef spec.nodeName)");
  }
  std::erase(options.exclude_namespaces, std::string());
  return options;
}

}  // namespace egressd::agent
