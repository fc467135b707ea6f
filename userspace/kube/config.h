#pragma once
// How to reach the Kubernetes API: the server, how to trust it and how to
// authenticate, from a kubeconfig file (its current context) or from the
// service account of the pod the agent runs in.
#include <memory>
#include <string>

#include "common/result.h"
#include "kube/bearer_token.h"

namespace egressd::kube {

struct ClusterConfig {
  std::string server;  // https://host:port, no trailing slash
  // Trust: a CA bundle file or PEM bytes (at most one is set), or none at all.
  std::string ca_file;
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  // Client certificate and key: files or PEM bytes.
  std::string client_cert_file;
  std::string client_cert_pem;
  std::string client_key_file;
  std::string client_key_pem;
  // Bearer token (static or read from a file); null without one.
  std::shared_ptr<BearerToken> token;
  std::string origin;  // "kubeconfig FILE (context NAME)" or "in-cluster", for messages
};

// The current context of a kubeconfig. Relative file paths are resolved
// against the kubeconfig's directory, as kubectl does. An `exec` plugin, an
// auth provider or any field egressd does not implement is an error naming it:
// silently ignoring one would connect with the wrong identity.
Result<ClusterConfig> loadKubeconfig(const std::string& path);

// The pod's service account: KUBERNETES_SERVICE_HOST/PORT from `env`, the CA
// and the token under `account_dir` (the token file is re-read as it rotates).
struct InClusterEnv {
  std::string service_host;  // $KUBERNETES_SERVICE_HOST
  std::string service_port;  // $KUBERNETES_SERVICE_PORT
  std::string account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
InClusterEnv inClusterEnvFromProcess();
Result<ClusterConfig> loadInClusterConfig(const InClusterEnv& env);

// RFC 4648 base64 (the kubeconfig's *-data fields); nullopt-like error on bad input.
Result<std::string> decodeBase64(const std::string& text);

}  // namespace egressd::kube
