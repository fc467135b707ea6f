#include "kube/bearer_token.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace egressd::kube {
namespace {

std::string trimmed(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

}  // namespace

std::shared_ptr<BearerToken> BearerToken::fixed(std::string token) {
  return std::shared_ptr<BearerToken>(new BearerToken(trimmed(std::move(token)), {}));
}

std::shared_ptr<BearerToken> BearerToken::fromFile(std::filesystem::path file) {
  return std::shared_ptr<BearerToken>(new BearerToken({}, std::move(file)));
}

Result<std::string> BearerToken::current() {
  std::lock_guard lock(mutex_);
  if (file_.empty()) return token_;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(file_, ec);
  const uintmax_t size = ec ? 0 : std::filesystem::file_size(file_, ec);
  if (ec) {
    if (loaded_) return token_;  // keep the last token while the file is being swapped
    return fail("token file " + file_.string() + ": " + ec.message());
  }
  if (!loaded_ || mtime != mtime_ || size != size_) {
    std::ifstream in(file_);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      if (loaded_) return token_;
      return fail("token file " + file_.string() + " cannot be read");
    }
    token_ = trimmed(text.str());
    mtime_ = mtime;
    size_ = size;
    loaded_ = true;
  }
  return token_;
}

void BearerToken::invalidate() {
  std::lock_guard lock(mutex_);
  // A fixed token cannot change; a file is read again (its last token stays
  // in use if it cannot be read).
  if (!file_.empty()) mtime_ = {};
}

}  // namespace egressd::kube
