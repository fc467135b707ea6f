// Istio conformance: every row of tests/data/conformance/*.yaml (Istio's own
// validation test tables, translated to YAML) goes through egressd's parser
// and validation, and egressd must give Istio's verdict. accept-with-warning
// counts as accept; a row with `egressd_warns` must also get a warning that
// contains that text (what egressd accepts but cannot enforce).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "policy/describe.h"
#include "policy/parser.h"

namespace egressd::policy {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(EGRESSD_TEST_DATA) / "conformance";

struct Row {
  std::string file;
  int line = 0;
  std::string name;
  std::string istio;  // accept | reject | accept-with-warning
  std::string egressd_warns;
  std::string object_yaml;
};

std::vector<Row> loadRows() {
  std::vector<Row> rows;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    for (const YAML::Node& doc : YAML::LoadAllFromFile(file.string())) {
      if (!doc.IsMap()) continue;
      Row row;
      row.file = file.filename().string();
      row.line = doc.Mark().line + 1;
      row.name = doc["case"].as<std::string>();
      row.istio = doc["istio"].as<std::string>();
      if (doc["egressd_warns"]) row.egressd_warns = doc["egressd_warns"].as<std::string>();
      YAML::Emitter emitter;
      emitter << doc["object"];
      row.object_yaml = emitter.c_str();
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

size_t objectCount(const ParsedDocuments& parsed) {
  return parsed.service_entries.size() + parsed.sidecars.size() + parsed.gateways.size() +
         parsed.virtual_services.size() + parsed.destination_rules.size() + (parsed.mesh ? 1 : 0);
}

TEST(PolicyConformance, AgreesWithIstioOnEveryRow) {
  const std::vector<Row> rows = loadRows();
  ASSERT_GT(rows.size(), 100u) << "corpus not found under " << kCorpus;
  std::string disagreements;
  size_t agreed = 0;
  for (const Row& row : rows) {
    const ParsedDocuments parsed = parseYaml(row.object_yaml, row.file);
    const bool accepted = parsed.rejected.empty() && objectCount(parsed) == 1;
    const bool istio_accepts = row.istio != "reject";
    std::string said;
    for (const auto& r : parsed.rejected) said += "\n    rejected: " + r.reason;
    for (const auto& w : parsed.warnings) said += "\n    warning: " + w.message;
    std::string problem;
    if (accepted != istio_accepts) {
      problem = std::string("Istio ") + (istio_accepts ? "accepts" : "rejects") + ", egressd " +
                (accepted ? "accepts" : "rejects");
    } else if (!row.egressd_warns.empty()) {
      bool warned = false;
      for (const auto& w : parsed.warnings) warned = warned || w.message.find(row.egressd_warns) != std::string::npos;
      if (!warned) problem = "no warning says \"" + row.egressd_warns + "\"";
    }
    if (problem.empty()) {
      ++agreed;
    } else {
      disagreements += "\n  " + row.file + ":" + std::to_string(row.line) + " \"" + row.name + "\": " + problem + said;
    }
  }
  EXPECT_EQ(agreed, rows.size()) << agreed << " of " << rows.size() << " rows agree:" << disagreements;
}

}  // namespace
}  // namespace egressd::policy
