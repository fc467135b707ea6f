#pragma once
// Small helpers shared by the validation files (not part of the API).
#include <string>

#include "policy/validation.h"

namespace egressd::policy::findings {

inline std::string quoted(const std::string& s) { return "\"" + s + "\""; }
inline std::string at(const std::string& field, size_t i) { return field + "[" + std::to_string(i) + "]"; }

inline void error(Findings& out, std::string field, std::string message) {
  out.errors.push_back({std::move(field), std::move(message), 0});
}
inline void warn(Findings& out, std::string field, std::string message) {
  out.warnings.push_back({std::move(field), std::move(message), 0});
}

}  // namespace egressd::policy::findings
