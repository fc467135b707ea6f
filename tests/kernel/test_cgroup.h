#pragma once
// A private cgroup v2 subtree for one test: <cgroup2 root>/egressd-ktest-<pid>-<n>.
// Hooks attach here, never at the machine's root; removed on destruction.
#include <string>
#include <vector>

namespace egressd::ktest {

class TestCgroupTree {
 public:
  TestCgroupTree();
  ~TestCgroupTree();
  TestCgroupTree(const TestCgroupTree&) = delete;
  TestCgroupTree& operator=(const TestCgroupTree&) = delete;

  bool ok() const { return !root_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& root() const { return root_; }
  // Creates root/<relative> (and parents); returns its absolute path.
  std::string make(const std::string& relative);

 private:
  std::string root_;
  std::string error_;
  std::vector<std::string> created_;  // removed deepest first
};

}  // namespace egressd::ktest
