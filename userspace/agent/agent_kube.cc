// The agent's Kubernetes mode: the API source is started here and feeds the
// same reload (store, compiler, map sync) as the policy directory; its sync
// state and errors are metrics.
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "kube/config.h"
#include "kube/curl_transport.h"

namespace egressd::agent {

using Type = admin::MetricsRegistry::Type;

// How long start() waits for the first lists. Past it the agent starts
// anyway (keeping the maps it adopted) and applies when the lists arrive; an
// upgrade's staged programs then do not go live (the old ones keep enforcing).
constexpr auto kFirstSyncWait = std::chrono::seconds(10);

Status Agent::startKubeSource() {
  if (!kubeMode()) return Ok{};
  auto config = options_.in_cluster ? kube::loadInClusterConfig(kube::inClusterEnvFromProcess())
                                    : kube::loadKubeconfig(options_.kubeconfig);
  if (!config) return fail(config.error());
  spdlog::info("Kubernetes API {} from {}", config->server, config->origin);

  metrics_.describe("egressd_kube_watch_errors_total", Type::kCounter,
                    "Failed Kubernetes API requests and broken watches, by resource and reason "
                    "(connection, unauthorized, forbidden, gone, idle, server_error...).");
  metrics_.describe("egressd_kube_last_sync_timestamp_seconds", Type::kGauge,
                    "When each resource was last known current (a list, an event or a bookmark), Unix seconds; "
                    "it stops advancing while the API is unreachable.");
  metrics_.describe("egressd_kube_synced", Type::kGauge, "1 once the resource was listed (0 before the first list).");
  metrics_.describe("egressd_kube_objects", Type::kGauge, "Objects in each resource's cache.");

  kube::PolicySourceOptions source_options;
  source_options.istio_namespace = options_.istio_namespace;
  source_options.istio_revision = options_.istio_revision;
  source_options.node_name = options_.node_name;
  kube::KubePolicySource::Callbacks callbacks;
  callbacks.error = [this](const std::string& resource, const std::string& reason) {
    metrics_.addCounter("egressd_kube_watch_errors_total", {{"resource", resource}, {"reason", reason}}, 1);
  };
  kube_source_ = std::make_unique<kube::KubePolicySource>(std::make_unique<kube::CurlTransport>(std::move(*config)),
                                                          source_options, std::move(callbacks));
  kube_source_->start();
  return Ok{};
}

void Agent::waitForKubeSync() {
  if (!kube_source_) return;
  const auto deadline = std::chrono::steady_clock::now() + kFirstSyncWait;
  while (!kube_source_->synced() && std::chrono::steady_clock::now() < deadline) {
    kube_source_->waitForChange(std::chrono::milliseconds(50));
  }
  if (!kube_source_->synced()) {
    spdlog::warn("the Kubernetes API is not listed yet after {} s; the maps keep what they hold until it is",
                 kFirstSyncWait.count());
  }
}

void Agent::refreshKubeMetrics() {
  if (!kube_source_) return;
  std::map<admin::Labels, double> last_sync, synced, objects;
  for (const kube::ResourceState& state : kube_source_->states()) {
    const admin::Labels labels{{"resource", state.resource}};
    if (state.last_sync.time_since_epoch().count() != 0) {
      last_sync[labels] = std::chrono::duration<double>(state.last_sync.time_since_epoch()).count();
    }
    synced[labels] = state.synced ? 1 : 0;
    objects[labels] = static_cast<double>(state.objects);
  }
  metrics_.replaceGauges("egressd_kube_last_sync_timestamp_seconds", last_sync);
  metrics_.replaceGauges("egressd_kube_synced", synced);
  metrics_.replaceGauges("egressd_kube_objects", objects);
}

}  // namespace egressd::agent
