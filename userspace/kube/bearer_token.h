#pragma once
// A bearer token, fixed or read from a file that rotates (projected service
// account tokens are replaced about every hour). The file is read again when
// its modification time or size changes, and after the server answered 401.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"

namespace egressd::kube {

class BearerToken {
 public:
  static std::shared_ptr<BearerToken> fixed(std::string token);
  static std::shared_ptr<BearerToken> fromFile(std::filesystem::path file);

  // The token to send now; an error if a file-based token cannot be read.
  Result<std::string> current();
  // The server rejected the token (401): read the file again at the next current().
  void invalidate();
  const std::filesystem::path& file() const { return file_; }

 private:
  BearerToken(std::string token, std::filesystem::path file) : token_(std::move(token)), file_(std::move(file)) {}

  std::mutex mutex_;
  std::string token_;
  std::filesystem::path file_;  // empty: a fixed token
  std::filesystem::file_time_type mtime_{};
  uintmax_t size_ = 0;
  bool loaded_ = false;
};

}  // namespace egressd::kube
