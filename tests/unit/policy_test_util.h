#pragma once
// Shared helpers for the policy tests: build one-object YAML from a spec in
// flow style, and summarize what the parser said.
#include <string>

#include "policy/describe.h"
#include "policy/parser.h"

namespace egressd::policy::testing {

inline std::string objectYaml(const std::string& api_version, const std::string& kind, const std::string& spec,
                              const std::string& name = "t", const std::string& ns = "production") {
  return "apiVersion: " + api_version + "\nkind: " + kind + "\nmetadata:\n  name: " + name +
         "\n  namespace: " + ns + "\nspec: " + spec + "\n";
}

inline std::string serviceEntryYaml(const std::string& spec, const std::string& name = "t") {
  return objectYaml("networking.istio.io/v1", "ServiceEntry", spec, name);
}

inline std::string sidecarYaml(const std::string& spec, const std::string& name = "t") {
  return objectYaml("networking.istio.io/v1", "Sidecar", spec, name);
}

inline std::string reasons(const ParsedDocuments& parsed) {
  std::string out;
  for (const auto& r : parsed.rejected) out += describe(r) + "\n";
  return out;
}

inline std::string warnings(const ParsedDocuments& parsed) {
  std::string out;
  for (const auto& w : parsed.warnings) out += describe(w) + "\n";
  return out;
}

}  // namespace egressd::policy::testing
