#pragma once
// Consumes the kernel's dns_punt ring buffer on its own thread and hands each
// record to the PuntLearner with the policy in force, or, for an audit
// workload's answer its scope does not allow, to the AnswerObservations.
#include <atomic>
#include <memory>
#include <thread>

#include "agent/agent_state.h"
#include "bpf/datapath.h"
#include "dns/answer_observations.h"
#include "dns/punt_learner.h"

struct ring_buffer;

namespace egressd::agent {

class DnsPuntReader {
 public:
  // Starts the thread; the datapath and state must outlive the reader.
  static Result<std::unique_ptr<DnsPuntReader>> start(bpf::Datapath& datapath, const AgentState& state,
                                                      dns::TtlBounds ttl, dns::PuntStats& stats,
                                                      dns::AnswerObservations& observations);
  ~DnsPuntReader();
  DnsPuntReader(const DnsPuntReader&) = delete;
  DnsPuntReader& operator=(const DnsPuntReader&) = delete;

 private:
  class Store;
  DnsPuntReader(bpf::Datapath& datapath, const AgentState& state, dns::TtlBounds ttl, dns::PuntStats& stats,
                dns::AnswerObservations& observations);
  static int onRecord(void* self, void* data, size_t size);
  void loop();

  const AgentState& state_;
  std::unique_ptr<Store> store_;
  dns::PuntLearner learner_;
  dns::PuntStats& stats_;
  dns::AnswerObservations& observations_;
  ring_buffer* ring_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace egressd::agent
