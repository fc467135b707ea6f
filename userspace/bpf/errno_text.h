#pragma once
// "<what>: <strerror>" for errors that name the path or operation.
#include <cstring>
#include <string>

namespace egressd::bpf {

// err is a positive or negative errno (libbpf returns -errno).
inline std::string errnoMessage(const std::string& what, int err) {
  return what + ": " + std::strerror(err < 0 ? -err : err);
}

}  // namespace egressd::bpf
