// loadPolicyDir over a fixture tree (tests/data/policy/tree) and temp dirs.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "policy/parser.h"
#include "policy/policy_store.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

namespace fs = std::filesystem;
using testing::reasons;

const fs::path kTree = fs::path(EGRESSD_TEST_DATA) / "policy" / "tree";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "egressd-policy-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

TEST(PolicyDir, LoadsEveryPolicyFileInOrderAndSkipsTheRest) {
  const ParsedDocuments parsed = loadPolicyDir(kTree);
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed);
  EXPECT_EQ(parsed.service_entries[0].meta.name, "payments");
  EXPECT_EQ(parsed.service_entries[0].source.file, (kTree / "10-services.yaml").string());
  EXPECT_EQ(parsed.service_entries[0].source.line, 2);
  ASSERT_EQ(parsed.sidecars.size(), 1u);
  EXPECT_EQ(parsed.sidecars[0].outbound_mode, OutboundMode::kRegistryOnly);
  ASSERT_EQ(parsed.workloads.size(), 1u);
  EXPECT_EQ(parsed.workloads[0].cgroup, "/sys/fs/cgroup/demo/web");
  ASSERT_TRUE(parsed.mesh.has_value());
  EXPECT_EQ(parsed.mesh->outbound_mode, OutboundMode::kRegistryOnly);
  EXPECT_EQ(parsed.mesh_source.file, (kTree / "nested" / "workloads.yaml").string());
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_EQ(describe(parsed.rejected[0]), "ServiceEntry production/bad (" + (kTree / "10-services.yaml").string() +
                                              ":21): addresses[0] \"10.0.0.0/33\" is not a valid IP or CIDR");
  EXPECT_TRUE(parsed.unreadable_files.empty());
}

TEST(PolicyDir, MissingDirectoryIsUnreadable) {
  const ParsedDocuments parsed = loadPolicyDir(kTree / "does-not-exist");
  EXPECT_EQ(parsed.unreadable_files.size(), 1u);
  EXPECT_EQ(parsed.warnings.size(), 1u);
}

TEST(PolicyDir, SyntaxErrorInOneFileLosesNothingElse) {
  TempDir dir;
  dir.write("a.yaml",
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a}\n"
            "spec: {hosts: [a.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}\n");
  dir.write("b.yaml",
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: b}\n"
            "spec: {hosts: [b.example.com], ports: [{number: 443, name: tls, protocol: TLS}]}\n");
  PolicyStore store;
  EXPECT_EQ(store.apply(loadPolicyDir(dir.path())).objects, 2u);

  dir.write("b.yaml", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nspec: {hosts: [oops\n");
  const ParsedDocuments parsed = loadPolicyDir(dir.path());
  EXPECT_EQ(parsed.unreadable_files, std::vector<std::string>{(dir.path() / "b.yaml").string()});
  EXPECT_EQ(parsed.service_entries.size(), 1u);
  const auto report = store.apply(parsed);
  EXPECT_EQ(report.objects, 2u);  // b keeps its previous version
}

TEST(PolicyDir, EmptyDirectoryHasNothing) {
  TempDir dir;
  const ParsedDocuments parsed = loadPolicyDir(dir.path());
  EXPECT_TRUE(parsed.unreadable_files.empty());
  EXPECT_TRUE(parsed.service_entries.empty());
  EXPECT_TRUE(parsed.rejected.empty());
}

}  // namespace
}  // namespace egressd::policy

namespace egressd::policy {
namespace {

std::string serviceEntryYaml(const std::string& name, const std::string& address) {
  return "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: " + name +
         ", namespace: ns}\nspec:\n  hosts: [" + name + ".example.com]\n  addresses: [" + address +
         "]\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n";
}

std::vector<std::string> namesOf(const ParsedDocuments& parsed) {
  std::vector<std::string> names;
  for (const auto& se : parsed.service_entries) names.push_back(se.meta.name + "=" + se.addresses.at(0));
  return names;
}

TEST(PolicyDirReader, ParsesOnlyFilesWhoseBytesChangedAndAgreesWithLoadPolicyDir) {
  TempDir dir;
  dir.write("a.yaml", serviceEntryYaml("a", "192.0.2.1"));
  dir.write("b.yaml", serviceEntryYaml("b", "192.0.2.2"));
  PolicyDirReader reader(dir.path());

  EXPECT_EQ(namesOf(reader.read()), (std::vector<std::string>{"a=192.0.2.1", "b=192.0.2.2"}));
  EXPECT_EQ(reader.lastParsedFiles(), 2u);
  EXPECT_EQ(namesOf(reader.read()), namesOf(loadPolicyDir(dir.path())));
  EXPECT_EQ(reader.lastParsedFiles(), 0u);

  dir.write("b.yaml", serviceEntryYaml("b", "192.0.2.3"));  // same size, same second: bytes differ
  EXPECT_EQ(namesOf(reader.read()), (std::vector<std::string>{"a=192.0.2.1", "b=192.0.2.3"}));
  EXPECT_EQ(reader.lastParsedFiles(), 1u);

  fs::remove(dir.path() / "a.yaml");
  EXPECT_EQ(namesOf(reader.read()), (std::vector<std::string>{"b=192.0.2.3"}));
  EXPECT_EQ(reader.lastParsedFiles(), 0u);

  dir.write("a.yaml", serviceEntryYaml("a", "192.0.2.1"));  // back again: parsed again, not resurrected from cache
  EXPECT_EQ(namesOf(reader.read()), (std::vector<std::string>{"a=192.0.2.1", "b=192.0.2.3"}));
  EXPECT_EQ(reader.lastParsedFiles(), 1u);
}

}  // namespace
}  // namespace egressd::policy
