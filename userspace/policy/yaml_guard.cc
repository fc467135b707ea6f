#include "policy/yaml_guard.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <sstream>
#include <vector>

namespace egressd::policy {
namespace {

// Thrown by the counting handler to stop the parser at the first problem.
struct Stop {
  YamlProblem problem;
};

int lineOf(const YAML::Mark& mark) { return mark.line < 0 ? 0 : mark.line + 1; }

std::string count(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Counts what LoadAll would build, aliases expanded, and stops at a bound.
class Counter : public YAML::EventHandler {
 public:
  explicit Counter(const YamlLimits& limits) : limits_(limits) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    // A document begins where the one before began: the parser made no
    // progress and would go on making empty documents (yaml-cpp 0.7 on a
    // stray ',').
    if (documents_ > 0 && mark.pos == last_document_pos_)
      throw Stop{{lineOf(mark),
                  "YAML the parser cannot read past: a ',' outside a flow collection ([...] or {...}) where a "
                  "document or a top-level entry is expected"}};
    if (++documents_ > limits_.max_documents)
      throw Stop{{lineOf(mark), "more than " + count(limits_.max_documents) + " YAML documents in one file"}};
    last_document_pos_ = mark.pos;
    anchor_sizes_.clear();  // anchors are per document
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string&) override {
    leaf(mark, anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchor_sizes_.find(anchor);
    const size_t size = it == anchor_sizes_.end() ? 1 : it->second;  // an alias inside its own anchor: 1
    alias_nodes_ += size;
    if (alias_nodes_ > limits_.max_alias_nodes)
      throw Stop{{lineOf(mark), "YAML aliases expand to more than " + count(limits_.max_alias_nodes) +
                                    " nodes (anchors of anchors); write the values out"}};
    add(mark, size);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    size_t nodes_before;
  };

  void add(const YAML::Mark& mark, size_t n) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes)
      throw Stop{{lineOf(mark), "more than " + count(limits_.max_nodes) + " YAML nodes in one file"}};
  }
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    add(mark, 1);
    if (anchor) anchor_sizes_[anchor] = 1;
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    open_.push_back({anchor, nodes_});
    add(mark, 1);
  }
  void close() {
    if (open_.empty()) return;
    const Open o = open_.back();
    open_.pop_back();
    if (o.anchor) anchor_sizes_[o.anchor] = nodes_ - o.nodes_before;
  }

  const YamlLimits& limits_;
  size_t documents_ = 0;
  int last_document_pos_ = -1;
  size_t nodes_ = 0;
  size_t alias_nodes_ = 0;
  std::map<YAML::anchor_t, size_t> anchor_sizes_;
  std::vector<Open> open_;
};

}  // namespace

std::optional<YamlProblem> checkYamlBounds(std::string_view text, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes)
    return YamlProblem{0, "file of " + count(text.size()) + " bytes, more than the " + count(limits.max_bytes) +
                              " a policy file may have"};
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  Counter counter(limits);
  try {
    while (parser.HandleNextDocument(counter)) {
    }
  } catch (const Stop& stop) {
    return stop.problem;
  }
  return std::nullopt;
}

}  // namespace egressd::policy
