// Writes each DNS fixture as a file into DIR: the fuzzer's seed corpus, so
// it starts from every shape the tests know about.
#include <cstdio>
#include <string>

#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int i = 0;
  for (const auto& f : egressd::testing::dnsAnswerFixtures()) {
    std::string path = std::string(argv[1]) + "/fixture-" + std::to_string(i++);
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) return 1;
    auto bytes = egressd::testing::hexToBytes(f.hex);
    std::fwrite(bytes.data(), 1, bytes.size(), out);
    std::fclose(out);
  }
  std::printf("%d seeds in %s\n", i, argv[1]);
  return 0;
}
