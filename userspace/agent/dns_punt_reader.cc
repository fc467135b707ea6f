#include "agent/dns_punt_reader.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "agent/dns_view.h"

namespace egressd::agent {

class DnsPuntReader::Store final : public dns::LearnedStore {
 public:
  explicit Store(bpf::Datapath& datapath) : datapath_(datapath) {}
  Result<std::optional<egressd_dns_learned_value>> lookup(const egressd_dns_learned_key& key) override {
    return datapath_.lookupDnsLearned(key);
  }
  Status put(const egressd_dns_learned_key& key, const egressd_dns_learned_value& value) override {
    return datapath_.putDnsLearned(key, value);
  }

 private:
  bpf::Datapath& datapath_;
};

DnsPuntReader::DnsPuntReader(bpf::Datapath& datapath, const AgentState& state, dns::TtlBounds ttl,
                             dns::PuntStats& stats, dns::AnswerObservations& observations)
    : state_(state),
      store_(std::make_unique<Store>(datapath)),
      learner_(*store_, ttl, stats),
      stats_(stats),
      observations_(observations) {}

Result<std::unique_ptr<DnsPuntReader>> DnsPuntReader::start(bpf::Datapath& datapath, const AgentState& state,
                                                            dns::TtlBounds ttl, dns::PuntStats& stats,
                                                            dns::AnswerObservations& observations) {
  std::unique_ptr<DnsPuntReader> reader(new DnsPuntReader(datapath, state, ttl, stats, observations));
  reader->ring_ = ring_buffer__new(datapath.dnsPuntFd(), &DnsPuntReader::onRecord, reader.get(), nullptr);
  if (!reader->ring_) return fail(std::string("open ring buffer dns_punt: ") + std::strerror(errno));
  reader->thread_ = std::thread([r = reader.get()] { r->loop(); });
  return reader;
}

DnsPuntReader::~DnsPuntReader() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(ring_);
}

int DnsPuntReader::onRecord(void* self, void* data, size_t size) {
  auto* reader = static_cast<DnsPuntReader*>(self);
  if (size < sizeof(egressd_dns_punt)) {
    reader->stats_.add("agent_bad_record");
    return 0;
  }
  egressd_dns_punt punt;
  std::memcpy(&punt, data, sizeof(punt));
  if (punt.flags & EGRESSD_DNS_PUNT_F_OBSERVED) {  // never learned: only named
    reader->stats_.add(reader->observations_.recordAnswer(punt) ? "agent_observed" : "agent_observed_unparsable");
    return 0;
  }
  auto applied = reader->state_.current();
  if (!applied) {
    reader->stats_.add("agent_no_policy");
    return 0;
  }
  reader->learner_.onPunt(punt, applied->compiled.desired, bootTimeNs());
  return 0;
}

void DnsPuntReader::loop() {
  while (!stop_) {
    const int n = ring_buffer__poll(ring_, 200);
    if (n < 0 && n != -EINTR) {
      spdlog::warn("dns_punt ring buffer: {}", std::strerror(-n));
      return;
    }
  }
}

}  // namespace egressd::agent
