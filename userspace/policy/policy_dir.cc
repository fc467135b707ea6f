// loadPolicyDir: every policy file of a directory tree, in a stable order.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include "policy/parser.h"

namespace egressd::policy {
namespace {

namespace fs = std::filesystem;

// Dotfiles also cover Kubernetes ConfigMap mounts (..data, ..2024_...): the
// visible names are symlinks into them and are read through those.
bool isSkippedName(const std::string& name) {
  return name.empty() || name.front() == '.' || name.front() == '#' || name.back() == '~';
}

bool isPolicyFile(const fs::path& path) {
  const std::string ext = path.extension().string();
  return (ext == ".yaml" || ext == ".yml") && !isSkippedName(path.filename().string());
}

std::vector<fs::path> listPolicyFiles(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (isSkippedName(path.filename().string())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    std::error_code status_ec;
    if (fs::is_regular_file(path, status_ec) && isPolicyFile(path)) files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

ParsedDocuments unreadable(const std::string& name, const std::string& why) {
  ParsedDocuments out;
  out.unreadable_files.push_back(name);
  out.warnings.push_back({"File", "", "", {name, 0}, why + "; objects from it keep their previous versions"});
  return out;
}

// Reads every policy file of `dir`, handing each file's bytes to `parse`.
template <typename ParseFile>
ParsedDocuments readPolicyDir(const fs::path& dir, ParseFile&& parse) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return unreadable(dir.string(), "policy directory cannot be read: " + (ec ? ec.message() : "not a directory"));
  }
  const std::vector<fs::path> files = listPolicyFiles(dir, ec);
  if (ec) return unreadable(dir.string(), "policy directory cannot be listed: " + ec.message());

  ParsedDocuments all;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in.is_open() || in.bad()) {
      mergeDocuments(all, unreadable(file.string(), "cannot read file"));
      continue;
    }
    mergeDocuments(all, parse(file.string(), text.str()));
  }
  return all;
}

}  // namespace

ParsedDocuments loadPolicyDir(const fs::path& dir) {
  return readPolicyDir(dir, [](const std::string& name, const std::string& text) { return parseYaml(text, name); });
}

ParsedDocuments PolicyDirReader::read() {
  last_parsed_files_ = 0;
  std::map<std::string, CachedFile> seen;  // files gone since the last read drop out
  ParsedDocuments all = readPolicyDir(dir_, [&](const std::string& name, std::string text) {
    auto cached = cache_.find(name);
    if (cached == cache_.end() || cached->second.text != text) {
      ++last_parsed_files_;
      ParsedDocuments parsed = parseYaml(text, name);
      cached = cache_.insert_or_assign(name, CachedFile{std::move(text), std::move(parsed)}).first;
    }
    ParsedDocuments copy = cached->second.parsed;
    seen.insert(cache_.extract(cached));
    return copy;
  });
  cache_ = std::move(seen);
  return all;
}

}  // namespace egressd::policy
