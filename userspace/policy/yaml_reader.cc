#include "policy/yaml_reader.h"

#include <algorithm>
#include <charconv>

namespace egressd::policy {

int lineOfNode(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.line < 0 ? 0 : mark.line + 1;
}

DocumentReader::DocumentReader(const YAML::Node& document) : document_line_(lineOfNode(document)) {}

int DocumentReader::lineOf(const std::string& field) const {
  std::string path = field;
  while (!path.empty()) {
    if (auto it = lines_.find(path); it != lines_.end()) return it->second;
    size_t cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return document_line_;
}

void DocumentReader::fail(const std::string& field, std::string message, const YAML::Node& at) {
  int line = lineOfNode(at);
  issues_.push_back({field, std::move(message), line != 0 ? line : lineOf(field)});
}

void DocumentReader::warn(const std::string& field, std::string message, const YAML::Node& at) {
  int line = lineOfNode(at);
  warnings_.push_back({field, std::move(message), line != 0 ? line : lineOf(field)});
}

void DocumentReader::remember(const std::string& field, const YAML::Node& at) {
  if (int line = lineOfNode(at); line != 0) lines_[field] = line;
}

bool DocumentReader::present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

YAML::Node DocumentReader::child(const YAML::Node& map, const std::string& key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return map[key];
}

bool DocumentReader::expectMap(const YAML::Node& node, const std::string& field) {
  if (!present(node)) return false;
  remember(field, node);
  if (!node.IsMap()) {
    fail(field, "must be a map", node);
    return false;
  }
  return true;
}

bool DocumentReader::expectList(const YAML::Node& node, const std::string& field) {
  if (!present(node)) return false;
  remember(field, node);
  if (!node.IsSequence()) {
    fail(field, "must be a list", node);
    return false;
  }
  return true;
}

std::optional<std::string> DocumentReader::string(const YAML::Node& node, const std::string& field) {
  if (!present(node)) return std::nullopt;
  remember(field, node);
  if (!node.IsScalar()) {
    fail(field, "must be a string", node);
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<uint32_t> DocumentReader::number(const YAML::Node& node, const std::string& field,
                                               uint64_t max) {
  if (!present(node)) return std::nullopt;
  remember(field, node);
  const std::string text = node.IsScalar() ? node.Scalar() : std::string();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!node.IsScalar() || text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    fail(field, "must be a non-negative integer, got \"" + text + "\"", node);
    return std::nullopt;
  }
  if (value > max) {
    fail(field, std::to_string(value) + " is out of range (max " + std::to_string(max) + ")", node);
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

std::vector<std::string> DocumentReader::stringList(const YAML::Node& node, const std::string& field) {
  std::vector<std::string> out;
  if (!expectList(node, field)) return out;
  for (size_t i = 0; i < node.size(); ++i) {
    if (auto value = string(node[i], field + "[" + std::to_string(i) + "]")) {
      out.push_back(*value);
    } else if (!present(node[i])) {
      fail(field + "[" + std::to_string(i) + "]", "must not be empty", node[i]);
    }
  }
  return out;
}

std::map<std::string, std::string> DocumentReader::stringMap(const YAML::Node& node,
                                                             const std::string& field) {
  std::map<std::string, std::string> out;
  if (!expectMap(node, field)) return out;
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
    const std::string path = field + "." + key;
    if (!entry.first.IsScalar()) {
      fail(field, "keys must be strings", entry.first);
      continue;
    }
    if (!present(entry.second)) {
      out[key] = "";  // `key:` with no value is the empty string in Kubernetes labels
      continue;
    }
    if (auto value = string(entry.second, path)) out[key] = *value;
  }
  return out;
}

void DocumentReader::warnUnknownKeys(const YAML::Node& map, const std::string& field,
                                     std::initializer_list<std::string_view> known) {
  if (!map.IsDefined() || !map.IsMap()) return;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) continue;
    const std::string& key = entry.first.Scalar();
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    warnings_.push_back({field.empty() ? key : field + "." + key, "is not a known field (ignored)",
                         lineOfNode(entry.first)});
  }
}

}  // namespace egressd::policy
