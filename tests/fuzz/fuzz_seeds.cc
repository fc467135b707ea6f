// Writes the fuzzers' seed corpora from the DNS fixture table, so they start
// from every shape the tests know about:
//  DNS_DIR: each answer as is (dns_parse_fuzz);
//  PUNT_DIR: each answer as a punted UDP record, and as a whole DNS-over-TCP
//  connection (SYN, SYN-ACK, query, answer in two segments) (punt_learner_fuzz).
#include <cstdio>
#include <string>
#include <vector>

#include "fixtures/dns_answers.h"
#include "fixtures/dns_fixture_util.h"
#include "fuzz/punt_records.h"

namespace {

using namespace egressd::testing;
namespace pr = punt_records;

bool writeFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (!out) return false;
  std::fwrite(bytes.data(), 1, bytes.size(), out);
  return std::fclose(out) == 0;
}

// The query the client sent for an answer: its header (QR clear, no records) and question.
std::vector<uint8_t> queryFor(const std::vector<uint8_t>& answer) {
  auto parsed = parseTwin(answer);
  if (parsed.st.qend == 0 || parsed.st.qend + 4 > answer.size()) return {};
  std::vector<uint8_t> q(answer.begin(), answer.begin() + parsed.st.qend + 4);
  q[2] = 0x01, q[3] = 0;
  for (int i = 6; i < 12; ++i) q[i] = 0;
  return q;
}

std::vector<uint8_t> framed(const std::vector<uint8_t>& message) {
  std::vector<uint8_t> out(2 + message.size());
  out[0] = static_cast<uint8_t>(message.size() >> 8);
  out[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DNS_DIR PUNT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dns_dir = argv[1], punt_dir = argv[2];
  int i = 0, punts = 0;
  for (const auto& f : dnsAnswerFixtures()) {
    const auto answer = hexToBytes(f.hex);
    const std::string n = std::to_string(i++);
    if (!writeFile(dns_dir + "/fixture-" + n, answer)) return 1;

    std::vector<uint8_t> udp;
    pr::encode(udp, 0, 0, 0, 0, answer);
    if (!writeFile(punt_dir + "/udp-" + n, udp)) return 1;
    ++punts;

    const auto query = queryFor(answer);
    if (query.empty()) continue;
    const auto answer_stream = framed(answer);
    const size_t half = answer_stream.size() / 2;
    std::vector<uint8_t> tcp;
    pr::encode(tcp, pr::kTcp | pr::kEgress | pr::kSyn, 0, 0, 100, {});
    pr::encode(tcp, pr::kTcp | pr::kSyn, 0, 0, 5000, {});
    pr::encode(tcp, pr::kTcp | pr::kEgress | pr::kInSequence, 0, 0, 0, framed(query));
    pr::encode(tcp, pr::kTcp | pr::kInSequence, 0, 1, 0, {answer_stream.begin(), answer_stream.begin() + half});
    pr::encode(tcp, pr::kTcp | pr::kInSequence, 0, 0, 0, {answer_stream.begin() + half, answer_stream.end()});
    if (!writeFile(punt_dir + "/tcp-" + n, tcp)) return 1;
    ++punts;
  }
  std::printf("%d DNS seeds in %s, %d punt seeds in %s\n", i, dns_dir.c_str(), punts, punt_dir.c_str());
  return 0;
}
