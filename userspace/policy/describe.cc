#include "policy/describe.h"

namespace egressd::policy {
namespace {

std::string subject(const std::string& kind, const std::string& ns, const std::string& name,
                    const SourceRef& source) {
  std::string out = kind.empty() ? "object" : kind;
  if (!name.empty()) out += " " + (ns.empty() ? name : ns + "/" + name);
  if (std::string where = describe(source); !where.empty()) out += " (" + where + ")";
  return out;
}

}  // namespace

std::string describe(const SourceRef& source) {
  if (source.file.empty()) return {};
  if (source.line <= 0) return source.file;
  return source.file + ":" + std::to_string(source.line);
}

std::string describe(const Rejection& rejection) {
  return subject(rejection.kind, rejection.namespace_, rejection.name, rejection.source) + ": " +
         rejection.reason;
}

std::string describe(const Warning& warning) {
  return subject(warning.kind, warning.namespace_, warning.name, warning.source) + ": " +
         warning.message;
}

}  // namespace egressd::policy
