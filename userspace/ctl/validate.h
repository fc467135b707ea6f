#pragma once
// egressctl validate: Istio YAML checked offline, exactly as the agent's
// parser and validation would take it (no agent, no root). Files,
// directories (every *.yaml / *.yml below, as --policy-dir reads them) and
// "-" for stdin (`kubectl get ... -o yaml` output: a List with items works).
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/parser.h"

namespace egressd::ctl {

struct ValidateReport {
  size_t accepted = 0;  // objects egressd uses that passed
  std::vector<policy::Rejection> rejected;
  std::vector<policy::Warning> warnings;
  std::vector<std::string> unreadable;  // files that could not be read or parsed
};

ValidateReport validatePaths(const std::vector<std::string>& paths, std::istream& stdin_stream);

// "FILE:LINE: error: KIND NS/NAME: FIELD REASON" per rejection, "warning:"
// per warning, then a summary line.
std::string renderValidate(const ValidateReport& report);
nlohmann::json validateJson(const ValidateReport& report);

// 1 if anything was rejected or unreadable, else 0.
int validateExitCode(const ValidateReport& report);

}  // namespace egressd::ctl
