// Kubeconfig and in-cluster configuration. A kubeconfig is YAML: read with
// yaml-cpp, every field checked against what egressd implements.
#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace egressd::kube {
namespace {

namespace fs = std::filesystem;

std::string scalar(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : std::string(); }

// The entry named `name` in a list of {name, <field>: {...}} (clusters, users, contexts).
Result<YAML::Node> named(const YAML::Node& root, const std::string& list, const std::string& field,
                         const std::string& name) {
  const YAML::Node entries = root[list];
  if (entries && entries.IsSequence()) {
    for (const YAML::Node& entry : entries) {
      if (entry.IsMap() && scalar(entry["name"]) == name) {
        const YAML::Node body = entry[field];
        if (!body || !body.IsMap()) return fail(list + " entry \"" + name + "\" has no " + field + " map");
        return body;
      }
    }
  }
  return fail("no " + list + " entry named \"" + name + "\"");
}

// Fields of one map that egressd does not implement, as an error naming the first.
Status onlyKnownFields(const YAML::Node& map, const std::string& where, const std::set<std::string>& known,
                       const std::map<std::string, std::string>& unsupported_why) {
  for (const auto& field : map) {
    const std::string key = field.first.as<std::string>("");
    if (known.count(key) != 0) continue;
    auto why = unsupported_why.find(key);
    if (why != unsupported_why.end()) return fail(where + "." + key + " is not supported: " + why->second);
    return fail(where + "." + key + " is not a field egressd understands; remove it or use a supported one");
  }
  return Ok{};
}

fs::path resolved(const fs::path& base_dir, const std::string& file) {
  fs::path path(file);
  return path.is_absolute() ? path : base_dir / path;
}

Result<std::string> pemFromData(const YAML::Node& node, const std::string& field) {
  auto decoded = decodeBase64(scalar(node));
  if (!decoded) return fail(field + ": " + decoded.error());
  if (decoded->empty()) return fail(field + " is empty");
  return *decoded;
}

Result<bool> boolField(const YAML::Node& node, const std::string& field) {
  if (!node) return false;
  const std::string text = scalar(node);
  if (text == "true") return true;
  if (text == "false") return false;
  return fail(field + " must be true or false, not \"" + text + "\"");
}

Status readCluster(const YAML::Node& cluster, const std::string& where, const fs::path& base_dir,
                   ClusterConfig& out) {
  if (Status s = onlyKnownFields(cluster, where,
                                 {"server", "certificate-authority", "certificate-authority-data",
                                  "insecure-skip-tls-verify", "disable-compression", "extensions"},
                                 {{"proxy-url", "egressd connects to the server directly"},
                                  {"tls-server-name", "the server's certificate must name the server address"}});
      !s) {
    return s;
  }
  out.server = scalar(cluster["server"]);
  while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
  if (out.server.rfind("https://", 0) != 0 && out.server.rfind("http://", 0) != 0) {
    return fail(where + ".server must be an https:// (or http://) URL, not \"" + out.server + "\"");
  }
  auto insecure = boolField(cluster["insecure-skip-tls-verify"], where + ".insecure-skip-tls-verify");
  if (!insecure) return fail(insecure.error());
  out.insecure_skip_tls_verify = *insecure;
  if (cluster["certificate-authority-data"]) {
    auto pem = pemFromData(cluster["certificate-authority-data"], where + ".certificate-authority-data");
    if (!pem) return fail(pem.error());
    out.ca_pem = *pem;
  } else if (cluster["certificate-authority"]) {
    out.ca_file = resolved(base_dir, scalar(cluster["certificate-authority"])).string();
  }
  if (out.insecure_skip_tls_verify && (!out.ca_pem.empty() || !out.ca_file.empty())) {
    return fail(where + ": a certificate authority together with insecure-skip-tls-verify is contradictory; use one");
  }
  return Ok{};
}

Status readUser(const YAML::Node& user, const std::string& where, const fs::path& base_dir, ClusterConfig& out) {
  if (Status s = onlyKnownFields(
          user, where,
          {"token", "tokenFile", "client-certificate", "client-certificate-data", "client-key", "client-key-data",
           "extensions"},
          {{"exec", "credential plugins are not run by egressd; use a token, tokenFile or a client certificate"},
           {"auth-provider", "auth providers are not supported; use a token, tokenFile or a client certificate"},
           {"username", "basic authentication is not supported; use a token or a client certificate"},
           {"password", "basic authentication is not supported; use a token or a client certificate"},
           {"as", "impersonation is not supported"},
           {"as-uid", "impersonation is not supported"},
           {"as-groups", "impersonation is not supported"},
           {"as-user-extra", "impersonation is not supported"}});
      !s) {
    return s;
  }
  if (user["token"] && user["tokenFile"]) return fail(where + " sets both token and tokenFile; use one");
  if (user["token"]) out.token = BearerToken::fixed(scalar(user["token"]));
  if (user["tokenFile"]) out.token = BearerToken::fromFile(resolved(base_dir, scalar(user["tokenFile"])));
  struct PemField {
    const char* file_key;
    const char* data_key;
    std::string* file;
    std::string* pem;
  };
  for (const PemField& field : std::array<PemField, 2>{
           PemField{"client-certificate", "client-certificate-data", &out.client_cert_file, &out.client_cert_pem},
           PemField{"client-key", "client-key-data", &out.client_key_file, &out.client_key_pem}}) {
    if (user[field.data_key]) {
      auto pem = pemFromData(user[field.data_key], where + "." + field.data_key);
      if (!pem) return fail(pem.error());
      *field.pem = *pem;
    } else if (user[field.file_key]) {
      *field.file = resolved(base_dir, scalar(user[field.file_key])).string();
    }
  }
  const bool has_cert = !out.client_cert_file.empty() || !out.client_cert_pem.empty();
  const bool has_key = !out.client_key_file.empty() || !out.client_key_pem.empty();
  if (has_cert != has_key) {
    return fail(where + (has_cert ? " has a client certificate but no client-key" : " has a client key but no client-certificate"));
  }
  return Ok{};
}

Result<std::string> readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<std::string> decodeBase64(const std::string& text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = value(c);
    if (v < 0 || padding != 0) return fail("not valid base64");
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1 || padding > 2) return fail("not valid base64");
  if (count == 2) out.push_back(static_cast<char>((bits >> 4) & 0xff));
  if (count == 3) {
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  }
  return out;
}

Result<ClusterConfig> loadKubeconfig(const std::string& path) {
  auto text = readFile(path);
  if (!text) return fail("kubeconfig " + path + ": " + text.error());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return fail("kubeconfig " + path + ": not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  if (!root.IsMap()) return fail("kubeconfig " + path + ": not a kubeconfig (expected a map with clusters, users, contexts)");
  const std::string context_name = scalar(root["current-context"]);
  if (context_name.empty()) return fail("kubeconfig " + path + ": current-context is not set");
  auto error = [&](const std::string& why) { return fail("kubeconfig " + path + ": " + why); };

  auto context = named(root, "contexts", "context", context_name);
  if (!context) return error(context.error());
  const std::string context_where = "contexts[" + context_name + "].context";
  if (Status s = onlyKnownFields(*context, context_where, {"cluster", "user", "namespace", "extensions"}, {}); !s) {
    return error(s.error());
  }
  const std::string cluster_name = scalar((*context)["cluster"]);
  const std::string user_name = scalar((*context)["user"]);
  const fs::path base_dir = fs::absolute(path).parent_path();

  ClusterConfig config;
  config.origin = "kubeconfig " + path + " (context " + context_name + ")";
  auto cluster = named(root, "clusters", "cluster", cluster_name);
  if (!cluster) return error(cluster.error());
  if (Status s = readCluster(*cluster, "clusters[" + cluster_name + "].cluster", base_dir, config); !s) {
    return error(s.error());
  }
  if (!user_name.empty()) {
    auto user = named(root, "users", "user", user_name);
    if (!user) return error(user.error());
    if (Status s = readUser(*user, "users[" + user_name + "].user", base_dir, config); !s) return error(s.error());
  }
  return config;
}

InClusterEnv inClusterEnvFromProcess() {
  InClusterEnv env;
  if (const char* host = std::getenv("KUBERNETES_SERVICE_HOST")) env.service_host = host;
  if (const char* port = std::getenv("KUBERNETES_SERVICE_PORT")) env.service_port = port;
  return env;
}

Result<ClusterConfig> loadInClusterConfig(const InClusterEnv& env) {
  if (env.service_host.empty() || env.service_port.empty()) {
    return fail("--in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (is the agent running in a pod?)");
  }
  const fs::path dir(env.account_dir);
  std::error_code ec;
  if (!fs::exists(dir / "token", ec)) {
    return fail("--in-cluster: no service account token at " + (dir / "token").string() +
                " (automountServiceAccountToken off?)");
  }
  ClusterConfig config;
  config.origin = "in-cluster";
  // An IPv6 service host needs brackets in a URL.
  const bool v6 = env.service_host.find(':') != std::string::npos;
  config.server = "https://" + (v6 ? "[" + env.service_host + "]" : env.service_host) + ":" + env.service_port;
  config.ca_file = (dir / "ca.crt").string();
  config.token = BearerToken::fromFile(dir / "token");
  if (auto token = config.token->current(); !token) return fail("--in-cluster: " + token.error());
  return config;
}

}  // namespace egressd::kube
