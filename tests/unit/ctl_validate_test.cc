// egressctl validate: files, directories and stdin through the agent's parser;
// each finding with file:line, and the exit code.
#include "ctl/validate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace egressd::ctl {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGood = R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: production}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
)";

constexpr const char* kBad = R"(apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: production}
spec:
  egress:
  - hosts:
    - "./*"
    - "bad-host"
)";

class CtlValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("egressd-validate-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "sub");
    write(dir_ / "good.yaml", kGood);
    write(dir_ / "sub" / "bad.yaml", kBad);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void write(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }
  fs::path dir_;
};

TEST_F(CtlValidate, GoodFileExitsZero) {
  std::istringstream in;
  const auto report = validatePaths({(dir_ / "good.yaml").string()}, in);
  EXPECT_EQ(report.accepted, 1u);
  EXPECT_TRUE(report.rejected.empty());
  EXPECT_EQ(validateExitCode(report), 0);
}

TEST_F(CtlValidate, DirectoryRejectionNamesFileLineAndField) {
  std::istringstream in;
  const auto report = validatePaths({dir_.string()}, in);
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.accepted, 1u);
  EXPECT_EQ(validateExitCode(report), 1);
  const std::string text = renderValidate(report);
  EXPECT_NE(text.find("bad.yaml:8: error: Sidecar production/default: egress[0].hosts[1]"), std::string::npos) << text;
  const auto json = validateJson(report);
  EXPECT_EQ(json["rejected"][0]["line"], 8);
  EXPECT_EQ(json["rejected"][0]["kind"], "Sidecar");
}

TEST_F(CtlValidate, StdinTakesAKubectlList) {
  std::istringstream in(R"(apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: api, namespace: production}
  spec: {hosts: [api.example.com], ports: [{number: 443, name: https, protocol: TLS}], resolution: DNS}
- apiVersion: networking.istio.io/v1
  kind: ServiceEntry
  metadata: {name: ip-host, namespace: production}
  spec: {hosts: [192.0.2.1], ports: [{number: 443, name: https, protocol: TLS}]}
)");
  const auto report = validatePaths({"-"}, in);
  EXPECT_EQ(report.accepted, 1u);
  ASSERT_EQ(report.rejected.size(), 1u);
  EXPECT_EQ(report.rejected[0].name, "ip-host");
  EXPECT_EQ(report.rejected[0].source.file, "-");
  EXPECT_EQ(validateExitCode(report), 1);
}

TEST_F(CtlValidate, WarningsAloneExitZero) {
  std::istringstream in(R"(apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partial, namespace: production}
spec: {hosts: ["*washingtonpost.com"], ports: [{number: 443, name: https, protocol: TLS}]}
)");
  const auto report = validatePaths({"-"}, in);
  EXPECT_TRUE(report.rejected.empty());
  EXPECT_FALSE(report.warnings.empty());
  EXPECT_NE(renderValidate(report).find("-:4: warning: ServiceEntry production/partial: hosts[0]"), std::string::npos)
      << renderValidate(report);
  EXPECT_EQ(validateExitCode(report), 0);
}

TEST_F(CtlValidate, MissingFileAndSyntaxErrorAreErrors) {
  write(dir_ / "broken.yaml", "kind: [unclosed\n");
  std::istringstream in;
  const auto report = validatePaths({(dir_ / "missing.yaml").string(), (dir_ / "broken.yaml").string()}, in);
  EXPECT_EQ(report.unreadable.size(), 2u);
  EXPECT_EQ(report.rejected.size(), 2u);
  EXPECT_EQ(validateExitCode(report), 1);
}

}  // namespace
}  // namespace egressd::ctl
