// Hostile policy files: deep nesting, huge documents, invalid UTF-8, 100,000
// objects. Each gives a clear error or the right objects, without crashing
// (the fuzzer, tests/fuzz/policy_parse_fuzz.cc, explores around these).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "policy/parser.h"
#include "policy/yaml_guard.h"
#include "policy_test_util.h"

namespace egressd::policy {
namespace {

using testing::reasons;
using testing::serviceEntryYaml;
using testing::warnings;

constexpr const char* kSeSpec = "{hosts: [api.example.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}";

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Unreadable as a whole, with one "File" warning that says `why`.
void expectUnreadable(const ParsedDocuments& parsed, const std::string& why) {
  ASSERT_EQ(parsed.unreadable_files, std::vector<std::string>{"h.yaml"}) << warnings(parsed);
  EXPECT_TRUE(parsed.service_entries.empty());
  ASSERT_EQ(parsed.warnings.size(), 1u);
  EXPECT_EQ(parsed.warnings[0].kind, "File");
  EXPECT_NE(parsed.warnings[0].message.find(why), std::string::npos) << parsed.warnings[0].message;
}

// yaml-cpp's parser recurses per level; its depth guard stops it long before
// the stack runs out, and the file is reported as nested too deeply (not
// yaml-cpp's bare "bad file").
TEST(PolicyHostileInput, HundredThousandNestedFlowListsAreAClearError) {
  expectUnreadable(parseYaml(repeat("[", 100000) + repeat("]", 100000), "h.yaml"), "YAML nested too deeply");
}

TEST(PolicyHostileInput, HundredThousandNestedFlowMapsAreAClearError) {
  expectUnreadable(parseYaml(repeat("{a: ", 100000) + "1" + repeat("}", 100000), "h.yaml"), "YAML nested too deeply");
}

TEST(PolicyHostileInput, HundredThousandNestedBlockListsAreAClearError) {
  expectUnreadable(parseYaml(repeat("- ", 100000) + "x\n", "h.yaml"), "YAML nested too deeply");
}

TEST(PolicyHostileInput, UnclosedNestingIsAClearError) {
  expectUnreadable(parseYaml(repeat("[", 100000), "h.yaml"), "YAML nested too deeply");
}

// Deep but within the parser's bound, where a host belongs: a field error.
TEST(PolicyHostileInput, NestingInsideAFieldRejectsTheObject) {
  const std::string spec = "{hosts: [" + repeat("[", 200) + "a" + repeat("]", 200) +
                           "], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}";
  const ParsedDocuments parsed = parseYaml(serviceEntryYaml(spec), "h.yaml");
  EXPECT_TRUE(parsed.service_entries.empty());
  ASSERT_EQ(parsed.rejected.size(), 1u) << warnings(parsed);
  EXPECT_NE(parsed.rejected[0].reason.find("hosts"), std::string::npos) << reasons(parsed);
}

TEST(PolicyHostileInput, InvalidUtf8InAHostRejectsTheObject) {
  const ParsedDocuments parsed = parseYaml(
      serviceEntryYaml("{hosts: [\"api.\xff\xfe.example.com\"], ports: [{number: 443, name: tls, protocol: TLS}], "
                       "resolution: DNS}"),
      "h.yaml");
  EXPECT_TRUE(parsed.service_entries.empty());
  ASSERT_EQ(parsed.rejected.size(), 1u) << warnings(parsed);
  EXPECT_NE(parsed.rejected[0].reason.find("hosts"), std::string::npos) << reasons(parsed);
}

TEST(PolicyHostileInput, InvalidUtf8InANameRejectsTheObject) {
  const ParsedDocuments parsed = parseYaml(serviceEntryYaml(kSeSpec, "bad\xc3\x28name"), "h.yaml");
  EXPECT_TRUE(parsed.service_entries.empty()) << parsed.service_entries[0].meta.name;
  ASSERT_EQ(parsed.rejected.size(), 1u) << warnings(parsed);
  EXPECT_NE(parsed.rejected[0].reason.find("metadata.name"), std::string::npos) << reasons(parsed);
}

TEST(PolicyHostileInput, BinaryGarbageIsNotAnObject) {
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage += static_cast<char>((i * 131 + 7) % 256);
  const ParsedDocuments parsed = parseYaml(garbage, "h.yaml");
  EXPECT_TRUE(parsed.service_entries.empty() && parsed.sidecars.empty() && parsed.workloads.empty());
  EXPECT_FALSE(parsed.rejected.empty() && parsed.unreadable_files.empty()) << "garbage passed silently";
}

// A UTF-8 byte order mark is allowed before a document.
TEST(PolicyHostileInput, ByteOrderMarkIsRead) {
  const ParsedDocuments parsed = parseYaml("\xef\xbb\xbf" + serviceEntryYaml(kSeSpec), "h.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed) << warnings(parsed);
}

// One document of ~2.5 MB: 100,000 hosts, all kept.
TEST(PolicyHostileInput, HugeDocumentIsReadWhole) {
  std::string hosts;
  for (int i = 0; i < 100000; ++i) hosts += (i ? ", h" : "h") + std::to_string(i) + ".example.com";
  const ParsedDocuments parsed = parseYaml(
      serviceEntryYaml("{hosts: [" + hosts + "], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}"),
      "h.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 1u) << reasons(parsed);
  ASSERT_EQ(parsed.service_entries[0].hosts.size(), 100000u);
  EXPECT_EQ(parsed.service_entries[0].hosts.back(), "h99999.example.com");
}

// One 16 MiB scalar where a host belongs: rejected as a host, nothing else.
TEST(PolicyHostileInput, HugeScalarRejectsTheObject) {
  const ParsedDocuments parsed = parseYaml(
      serviceEntryYaml("{hosts: [" + std::string(16u << 20, 'a') +
                       "], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}"),
      "h.yaml");
  EXPECT_TRUE(parsed.service_entries.empty());
  ASSERT_EQ(parsed.rejected.size(), 1u);
  EXPECT_NE(parsed.rejected[0].reason.find("hosts"), std::string::npos) << parsed.rejected[0].reason.substr(0, 200);
  EXPECT_LT(parsed.rejected[0].reason.size(), 4096u) << "the message repeats the 16 MiB value";
}

// 100,000 objects in one file: every one kept, each with its own line.
TEST(PolicyHostileInput, HundredThousandObjectsInOneFile) {
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "---\n" + serviceEntryYaml(kSeSpec, "se-" + std::to_string(i));
  const ParsedDocuments parsed = parseYaml(text, "h.yaml");
  ASSERT_EQ(parsed.service_entries.size(), 100000u) << reasons(parsed).substr(0, 1000);
  EXPECT_TRUE(parsed.rejected.empty());
  EXPECT_EQ(parsed.service_entries.back().meta.name, "se-99999");
  EXPECT_EQ(parsed.service_entries.back().source.line, 99999 * 7 + 2);  // 7 lines each, after its "---"
}

// yaml-cpp 0.7 on a ',' where a document's node is expected starts empty
// documents at the same place forever (2 GB from the fuzzer's 228 bytes).
// The guard stops it on the line of the ','.
TEST(PolicyHostileInput, StrayCommaIsAClearErrorNotEndlessDocuments) {
  for (const std::string text : {",", ",a", "- a\n,", "[a]\n,", "\"x\"\n,", "a: b\n---\n,", "!tag ,", "# c\n  ,"}) {
    SCOPED_TRACE(text);
    const ParsedDocuments parsed = parseYaml(text, "h.yaml");
    expectUnreadable(parsed, "a ',' outside a flow collection");
    EXPECT_EQ(parsed.warnings[0].source.line, static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1);
  }
  // The same in a real object's file: the objects before it are not applied
  // either (the file is unreliable as a whole, as for a syntax error).
  expectUnreadable(parseYaml(serviceEntryYaml(kSeSpec) + "---\n- a\n,\n", "h.yaml"), "outside a flow collection");
}

// Anchors of anchors (the "billion laughs"): ten levels of ten aliases would
// be walked 10^10 times by the reader. Bounded, and said.
TEST(PolicyHostileInput, AliasBombIsAClearError) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) text += ", " + prev;
    text += "]\n";
  }
  expectUnreadable(parseYaml(text, "h.yaml"), "aliases expand to more than 1,000,000 nodes");
  // A few aliases, as people use them, are read.
  const ParsedDocuments ok = parseYaml(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: ns}\nspec:\n"
      "  hosts: [a.example.com]\n  ports: &ports [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS\n"
      "---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: b, namespace: ns}\nspec:\n"
      "  hosts: [b.example.com]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  resolution: DNS\n",
      "h.yaml");
  EXPECT_EQ(ok.service_entries.size(), 2u) << warnings(ok) << reasons(ok);
}

// Size and counts: bounded with a clear error, checked before nodes are built.
TEST(PolicyHostileInput, FileSizeDocumentsAndNodesAreBounded) {
  YamlLimits small;
  small.max_bytes = 100;
  auto problem = checkYamlBounds(std::string(101, ' '), small);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "file of 101 bytes, more than the 100 a policy file may have");
  small = {};
  small.max_documents = 3;
  problem = checkYamlBounds("a\n---\nb\n---\nc\n---\nd\n", small);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->line, 6);  // the fourth document's "---"
  EXPECT_EQ(problem->message, "more than 3 YAML documents in one file");
  small = {};
  small.max_nodes = 5;
  problem = checkYamlBounds("[1, 2, 3, 4, 5]", small);
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->message, "more than 5 YAML nodes in one file");
  EXPECT_FALSE(checkYamlBounds("[1, 2, 3, 4]", small));
  // The default bound, through parseYaml: 64 MiB.
  expectUnreadable(parseYaml(std::string((64u << 20) + 1, '#'), "h.yaml"), "more than the 67,108,864");
}

}  // namespace
}  // namespace egressd::policy
