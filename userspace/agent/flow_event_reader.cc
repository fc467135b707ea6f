#include "agent/flow_event_reader.h"

#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "agent/flow_view.h"
#include "common/abi_names.h"

namespace egressd::agent {
namespace {

// Event times are CLOCK_MONOTONIC (bpf_ktime_get_ns): shift to wall clock.
std::string wallTime(uint64_t mono_ns) {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  const int64_t now_mono = int64_t(mono.tv_sec) * 1000000000 + mono.tv_nsec;
  const int64_t now_real = int64_t(real.tv_sec) * 1000000000 + real.tv_nsec;
  const int64_t t = now_real - (now_mono - int64_t(mono_ns));
  time_t secs = t / 1000000000;
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, int((t % 1000000000) / 1000));
  return buf;
}

}  // namespace

Result<std::unique_ptr<FlowEventReader>> FlowEventReader::start(bpf::Datapath& datapath, const AgentState& state,
                                                                AccessLog& log, RecentEvents& recent) {
  std::unique_ptr<FlowEventReader> reader(new FlowEventReader(datapath, state, log, recent));
  reader->ring_ = ring_buffer__new(datapath.flowEventsFd(), &FlowEventReader::onRecord, reader.get(), nullptr);
  if (!reader->ring_) return fail(std::string("open ring buffer flow_events: ") + std::strerror(errno));
  reader->thread_ = std::thread([r = reader.get()] { r->loop(); });
  return reader;
}

FlowEventReader::~FlowEventReader() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(ring_);
}

int FlowEventReader::onRecord(void* self, void* data, size_t size) {
  auto* reader = static_cast<FlowEventReader*>(self);
  if (size < sizeof(egressd_flow_event)) return 0;
  egressd_flow_event ev;
  std::memcpy(&ev, data, sizeof(ev));
  ++reader->received_;
  auto applied = reader->state_.current();
  LearnedClasses learned = [reader](uint32_t scope_id, const uint8_t(&addr)[16]) {
    egressd_dns_learned_key key{};
    key.scope_id = scope_id;
    std::memcpy(key.addr, addr, sizeof(key.addr));
    std::vector<uint32_t> out;
    auto value = reader->datapath_.lookupDnsLearned(key);
    if (value && *value) {
      for (uint32_t id : (*value)->class_ids)
        if (id) out.push_back(id);
    }
    return out;
  };
  const FlowLabels l = describeFlow(applied.get(), ev.cgroup_id, ev.addr, ev.port, ev.protocol, ev.scope_id, learned);
  const auto verdict = static_cast<egressd_verdict>(ev.verdict);
  nlohmann::json line{{"time", wallTime(ev.time_ns)},
                      {"workload", l.workload},
                      {"namespace", l.namespace_},
                      {"name", l.name},
                      {"source_workload", l.source_workload},
                      {"destination_ip", l.ip},
                      {"destination_port", l.port},
                      {"protocol", l.protocol},
                      {"host", l.host ? nlohmann::json(*l.host) : nlohmann::json(nullptr)},
                      {"verdict", verdictName(verdict)},
                      {"reason", reasonName(static_cast<egressd_reason>(ev.reason))},
                      {"service_entry", l.service_entry ? nlohmann::json(*l.service_entry) : nlohmann::json(nullptr)},
                      {"sidecar", l.sidecar ? nlohmann::json(*l.sidecar) : nlohmann::json(nullptr)},
                      {"scope", l.scope},
                      {"new_flow", (ev.flags & EGRESSD_EVENT_F_NEW_FLOW) != 0},
                      {"source", (ev.flags & EGRESSD_EVENT_F_PACKET) ? "packet" : "socket"}};
  reader->recent_.add(line, std::chrono::system_clock::now());
  reader->log_.write(std::move(line));
  return 0;
}

// The kernel side submits events without waking us unless a batch is queued
// (bpf/lib/flows.h, EGRESSD_EVENTS_WAKEUP_BYTES): a wakeup per event cost each
// new-flow connect a self-IPI and a context switch. So read the ring on a
// short timer too; an event reaches the access log within kPollMs.
void FlowEventReader::loop() {
  constexpr int kPollMs = 50;
  while (!stop_) {
    int n = ring_buffer__poll(ring_, kPollMs);
    if (n >= 0 || n == -EINTR) n = ring_buffer__consume(ring_);
    if (n < 0 && n != -EINTR) {
      spdlog::warn("flow_events ring buffer: {}", std::strerror(-n));
      return;
    }
  }
  ring_buffer__consume(ring_);  // what was queued since the last timer
}

}  // namespace egressd::agent
