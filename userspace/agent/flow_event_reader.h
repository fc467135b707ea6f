#pragma once
// Consumes the kernel's flow_events ring buffer on its own thread and writes
// each event to the access log, named with the policy in force, and to the
// recent events `egressctl observe` follows.
#include <atomic>
#include <memory>
#include <thread>

#include "agent/access_log.h"
#include "agent/agent_state.h"
#include "agent/recent_events.h"
#include "bpf/datapath.h"

struct ring_buffer;

namespace egressd::agent {

class FlowEventReader {
 public:
  // The datapath, state, log and recent events must outlive the reader.
  static Result<std::unique_ptr<FlowEventReader>> start(bpf::Datapath& datapath, const AgentState& state,
                                                        AccessLog& log, RecentEvents& recent);
  ~FlowEventReader();
  FlowEventReader(const FlowEventReader&) = delete;
  FlowEventReader& operator=(const FlowEventReader&) = delete;

  uint64_t received() const { return received_; }

 private:
  FlowEventReader(bpf::Datapath& datapath, const AgentState& state, AccessLog& log, RecentEvents& recent)
      : datapath_(datapath), state_(state), log_(log), recent_(recent) {}
  static int onRecord(void* self, void* data, size_t size);
  void loop();

  bpf::Datapath& datapath_;
  const AgentState& state_;
  AccessLog& log_;
  RecentEvents& recent_;
  ring_buffer* ring_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

}  // namespace egressd::agent
