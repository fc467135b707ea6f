#pragma once
// Routes libbpf's messages (verifier log, pinning, errors) through spdlog.
namespace egressd::bpf {

// Idempotent; libbpf keeps one process-wide print callback.
void routeLibbpfLogToSpdlog();

}  // namespace egressd::bpf
