#include "ctl/validate.h"

#include <filesystem>
#include <fstream>
#include <istream>
#include <iterator>
#include <sstream>

namespace egressd::ctl {
namespace {

namespace fs = std::filesystem;

size_t objectCount(const policy::ParsedDocuments& parsed) {
  return parsed.service_entries.size() + parsed.sidecars.size() + parsed.workloads.size() +
         parsed.namespaces.size() + parsed.gateways.size() + parsed.virtual_services.size() +
         parsed.destination_rules.size() + parsed.services.size() + (parsed.mesh ? 1 : 0);
}

void unreadable(policy::ParsedDocuments& into, const std::string& file, const std::string& why) {
  into.unreadable_files.push_back(file);
  into.warnings.push_back({"File", "", "", {file, 0}, why});
}

std::string where(const policy::SourceRef& source) {
  if (source.line <= 0) return source.file;
  return source.file + ":" + std::to_string(source.line);
}

std::string subject(const std::string& kind, const std::string& ns, const std::string& name) {
  if (name.empty()) return kind;
  return kind + " " + (ns.empty() ? name : ns + "/" + name);
}

}  // namespace

ValidateReport validatePaths(const std::vector<std::string>& paths, std::istream& stdin_stream) {
  policy::ParsedDocuments all;
  for (const std::string& path : paths) {
    if (path == "-") {
      const std::string text{std::istreambuf_iterator<char>(stdin_stream), std::istreambuf_iterator<char>()};
      policy::mergeDocuments(all, policy::parseYaml(text, "-"));
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      policy::mergeDocuments(all, policy::loadPolicyDir(path));
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      unreadable(all, path, "cannot be read: " + std::string(fs::exists(path, ec) ? "permission denied" : "no such file"));
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    policy::mergeDocuments(all, policy::parseYaml(text.str(), path));
  }
  ValidateReport report;
  report.accepted = objectCount(all);
  report.rejected = std::move(all.rejected);
  for (auto& warning : all.warnings) {
    // Files that could not be parsed are errors here, not warnings.
    const bool is_unreadable = warning.kind == "File" &&
                               std::find(all.unreadable_files.begin(), all.unreadable_files.end(),
                                         warning.source.file) != all.unreadable_files.end();
    if (is_unreadable) {
      report.rejected.push_back({"File", "", "", warning.source, warning.message});
    } else {
      report.warnings.push_back(std::move(warning));
    }
  }
  report.unreadable = std::move(all.unreadable_files);
  return report;
}

std::string renderValidate(const ValidateReport& report) {
  std::string out;
  for (const auto& r : report.rejected) {
    out += where(r.source) + ": error: " + subject(r.kind, r.namespace_, r.name) + ": " + r.reason + "\n";
  }
  for (const auto& w : report.warnings) {
    out += where(w.source) + ": warning: " + subject(w.kind, w.namespace_, w.name) + ": " + w.message + "\n";
  }
  out += std::to_string(report.accepted) + " object(s) accepted, " + std::to_string(report.rejected.size()) +
         " rejected, " + std::to_string(report.warnings.size()) + " warning(s)\n";
  return out;
}

nlohmann::json validateJson(const ValidateReport& report) {
  auto finding = [](const std::string& kind, const std::string& ns, const std::string& name,
                    const policy::SourceRef& source, const std::string& message) {
    return nlohmann::json{{"file", source.file}, {"line", source.line}, {"kind", kind},
                          {"namespace", ns},     {"name", name},        {"message", message}};
  };
  nlohmann::json out{{"accepted", report.accepted},
                     {"rejected", nlohmann::json::array()},
                     {"warnings", nlohmann::json::array()},
                     {"unreadable_files", report.unreadable}};
  for (const auto& r : report.rejected) out["rejected"].push_back(finding(r.kind, r.namespace_, r.name, r.source, r.reason));
  for (const auto& w : report.warnings) {
    out["warnings"].push_back(finding(w.kind, w.namespace_, w.name, w.source, w.message));
  }
  return out;
}

int validateExitCode(const ValidateReport& report) {
  return report.rejected.empty() && report.unreadable.empty() ? 0 : 1;
}

}  // namespace egressd::ctl
