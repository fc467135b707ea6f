// Kubeconfig and in-cluster configuration: fixture kubeconfigs in, the
// connection settings (or the error naming the unsupported field) out.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kube/config.h"

namespace egressd::kube {
namespace {

namespace fs = std::filesystem;

// "-----BEGIN CERTIFICATE-----\nCA\n" and friends, base64: the bytes only have to round-trip.
constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nCA\n";
constexpr const char* kCaData = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCg==";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("egressd_kubeconfig_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  // A kubeconfig whose current context "c" joins cluster "k" and user "u".
  std::string kubeconfig(const std::string& cluster, const std::string& user) {
    return write("config", "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                           "contexts:\n- name: other\n  context: {cluster: nowhere, user: nobody}\n"
                           "- name: c\n  context: {cluster: k, user: u, namespace: default}\n"
                           "clusters:\n- name: k\n  cluster:\n" + cluster +
                           "users:\n- name: u\n  user:\n" + user);
  }

  fs::path dir_;
};

TEST_F(KubeconfigTest, CurrentContextWithCaDataAndToken) {
  auto config = loadKubeconfig(kubeconfig(std::string("    server: https://127.0.0.1:6443/\n") +
                                              "    certificate-authority-data: " + kCaData + "\n",
                                          "    token: abc123\n"));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_TRUE(config->ca_file.empty());
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  ASSERT_TRUE(config->token);
  EXPECT_EQ(*config->token->current(), "abc123");
  EXPECT_NE(config->origin.find("context c"), std::string::npos);
}

TEST_F(KubeconfigTest, RelativeFilesResolveAgainstTheKubeconfigDirectory) {
  write("token", "from-file\n");
  auto config = loadKubeconfig(kubeconfig("    server: https://api.example:443\n    certificate-authority: ca.crt\n",
                                          "    tokenFile: token\n    client-certificate: certs/client.crt\n"
                                          "    client-key: /abs/client.key\n"));
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->ca_file, (dir_ / "ca.crt").string());
  EXPECT_EQ(config->client_cert_file, (dir_ / "certs/client.crt").string());
  EXPECT_EQ(config->client_key_file, "/abs/client.key");
  EXPECT_EQ(*config->token->current(), "from-file");
}

TEST_F(KubeconfigTest, ClientCertificateAndKeyData) {
  auto config = loadKubeconfig(kubeconfig("    server: https://k:6443\n    insecure-skip-tls-verify: true\n",
                                          std::string("    client-certificate-data: ") + kCaData +
                                              "\n    client-key-data: " + kCaData + "\n"));
  ASSERT_TRUE(config) << config.error();
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, kCaPem);
  EXPECT_EQ(config->client_key_pem, kCaPem);
  EXPECT_FALSE(config->token);
}

// Each row: a cluster and user body, and words the error must contain.
struct BadKubeconfig {
  const char* description;
  const char* cluster;
  const char* user;
  std::vector<std::string> error_mentions;
};

TEST_F(KubeconfigTest, UnsupportedOrContradictoryFieldsAreNamed) {
  const std::vector<BadKubeconfig> rows = {
      {"exec plugin", "    server: https://k\n", "    exec:\n      command: aws\n",
       {"users[u].user.exec", "credential plugins"}},
      {"auth provider", "    server: https://k\n", "    auth-provider: {name: gcp}\n", {"auth-provider"}},
      {"basic auth", "    server: https://k\n", "    username: admin\n", {"users[u].user.username"}},
      {"impersonation", "    server: https://k\n", "    token: t\n    as: admin\n", {"user.as ", "impersonation"}},
      {"unknown user field", "    server: https://k\n", "    tokne: t\n", {"users[u].user.tokne"}},
      {"proxy", "    server: https://k\n    proxy-url: http://proxy:3128\n", "    token: t\n",
       {"clusters[k].cluster.proxy-url"}},
      {"tls-server-name", "    server: https://k\n    tls-server-name: api\n", "    token: t\n", {"tls-server-name"}},
      {"no scheme", "    server: k:6443\n", "    token: t\n", {"server", "https://"}},
      {"CA and insecure", "    server: https://k\n    certificate-authority: ca\n    insecure-skip-tls-verify: true\n",
       "    token: t\n", {"contradictory"}},
      {"bad bool", "    server: https://k\n    insecure-skip-tls-verify: maybe\n", "    token: t\n",
       {"insecure-skip-tls-verify", "maybe"}},
      {"bad base64", "    server: https://k\n    certificate-authority-data: '%%%'\n", "    token: t\n",
       {"certificate-authority-data", "base64"}},
      {"token twice", "    server: https://k\n", "    token: t\n    tokenFile: f\n", {"token and tokenFile"}},
      {"cert without key", "    server: https://k\n", "    client-certificate: c.crt\n", {"no client-key"}},
  };
  for (const BadKubeconfig& row : rows) {
    auto config = loadKubeconfig(kubeconfig(row.cluster, row.user));
    ASSERT_FALSE(config) << row.description;
    for (const std::string& word : row.error_mentions) {
      EXPECT_NE(config.error().find(word), std::string::npos) << row.description << ": " << config.error();
    }
  }
}

TEST_F(KubeconfigTest, MissingPiecesAreErrors) {
  EXPECT_NE(loadKubeconfig((dir_ / "absent").string()).error().find("cannot read"), std::string::npos);
  EXPECT_NE(loadKubeconfig(write("a", "clusters: []\n")).error().find("current-context"), std::string::npos);
  EXPECT_NE(loadKubeconfig(write("b", "current-context: x\ncontexts: []\n")).error().find("no contexts entry named \"x\""),
            std::string::npos);
  EXPECT_NE(loadKubeconfig(write("c", "current-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\n"))
                .error()
                .find("no clusters entry named \"k\""),
            std::string::npos);
  EXPECT_NE(loadKubeconfig(write("d", "a: [\n")).error().find("not valid YAML"), std::string::npos);
}

TEST_F(KubeconfigTest, InClusterUsesTheServiceAccount) {
  fs::create_directories(dir_ / "sa");
  write("sa/token", "t1\n");
  auto config = loadInClusterConfig({"10.96.0.1", "443", (dir_ / "sa").string()});
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->ca_file, (dir_ / "sa/ca.crt").string());
  EXPECT_EQ(*config->token->current(), "t1");

  auto v6 = loadInClusterConfig({"fd00::1", "443", (dir_ / "sa").string()});
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");

  EXPECT_NE(loadInClusterConfig({"", "443", (dir_ / "sa").string()}).error().find("KUBERNETES_SERVICE_HOST"),
            std::string::npos);
  EXPECT_NE(loadInClusterConfig({"10.96.0.1", "443", (dir_ / "none").string()}).error().find("no service account token"),
            std::string::npos);
}

TEST_F(KubeconfigTest, TokenFileIsReadAgainWhenItChangesAndAfterA401) {
  const std::string file = write("token", "first");
  auto token = BearerToken::fromFile(file);
  EXPECT_EQ(*token->current(), "first");
  // A rotation that changes the size is noticed at once.
  write("token", "second-longer");
  EXPECT_EQ(*token->current(), "second-longer");
  // Same size and, on a coarse clock, the same mtime: only a 401 makes it read again.
  const auto mtime = fs::last_write_time(file);
  write("token", "third-longer!");
  fs::last_write_time(file, mtime);
  EXPECT_EQ(*token->current(), "second-longer");
  token->invalidate();
  EXPECT_EQ(*token->current(), "third-longer!");
  // While the file is briefly missing (an atomic swap), the last token stays in use.
  fs::remove(file);
  token->invalidate();
  EXPECT_EQ(*token->current(), "third-longer!");
}

TEST(Base64Test, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(*decodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(*decodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(*decodeBase64("aGVs\nbG8h"), "hell\x6f!");
  EXPECT_FALSE(decodeBase64("a"));
  EXPECT_FALSE(decodeBase64("aGV*"));
}

}  // namespace
}  // namespace egressd::kube
