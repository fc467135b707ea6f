#pragma once
// Typed reads off one YAML document. A field of the wrong type becomes an
// issue that names the field instead of an exception; every field read
// remembers its line so later validation messages can point at it.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace egressd::policy {

// One problem with one field ("ports[1].number"); line 0 means "look it up".
struct FieldIssue {
  std::string field;
  std::string message;
  int line = 0;
};

class DocumentReader {
 public:
  explicit DocumentReader(const YAML::Node& document);

  int documentLine() const { return document_line_; }
  const std::vector<FieldIssue>& issues() const { return issues_; }
  const std::vector<FieldIssue>& warnings() const { return warnings_; }

  // Line of `field`, or of its closest recorded parent, or of the document.
  int lineOf(const std::string& field) const;

  void fail(const std::string& field, std::string message, const YAML::Node& at);
  void warn(const std::string& field, std::string message, const YAML::Node& at);
  void remember(const std::string& field, const YAML::Node& at);

  // Set and not null.
  static bool present(const YAML::Node& node);
  // map[key], or an undefined node when `map` is not a map (yaml-cpp throws then).
  static YAML::Node child(const YAML::Node& map, const std::string& key);

  // The checks below record an issue (and return false / nullopt / empty)
  // when the node is present but of the wrong type. Absent is not an error.
  bool expectMap(const YAML::Node& node, const std::string& field);
  bool expectList(const YAML::Node& node, const std::string& field);
  std::optional<std::string> string(const YAML::Node& node, const std::string& field);
  std::optional<uint32_t> number(const YAML::Node& node, const std::string& field, uint64_t max);
  std::vector<std::string> stringList(const YAML::Node& node, const std::string& field);
  std::map<std::string, std::string> stringMap(const YAML::Node& node, const std::string& field);

  // Istio's schemas have no free-form fields: a typo ("resolutin") would
  // silently fall back to a default here, so every unknown key is a warning.
  void warnUnknownKeys(const YAML::Node& map, const std::string& field,
                       std::initializer_list<std::string_view> known);

 private:
  int document_line_;
  std::vector<FieldIssue> issues_;
  std::vector<FieldIssue> warnings_;
  std::map<std::string, int> lines_;
};

int lineOfNode(const YAML::Node& node);  // 1-based, 0 if unknown

}  // namespace egressd::policy
