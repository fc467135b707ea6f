#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>

namespace egressd::bpf {
namespace {

int printToSpdlog(enum libbpf_print_level level, const char* format, va_list args) {
  const auto spd_level = level == LIBBPF_WARN   ? spdlog::level::warn
                         : level == LIBBPF_INFO ? spdlog::level::info
                                                : spdlog::level::debug;
  if (!spdlog::should_log(spd_level)) return 0;
  va_list sized;
  va_copy(sized, args);
  const int n = std::vsnprintf(nullptr, 0, format, sized);
  va_end(sized);
  if (n <= 0) return n;
  std::string line(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(line.data(), line.size(), format, args);
  line.resize(static_cast<size_t>(n));
  while (!line.empty() && line.back() == '\n') line.pop_back();
  spdlog::log(spd_level, "{}", line);  // libbpf prefixes its own "libbpf: "
  return n;
}

}  // namespace

void routeLibbpfLogToSpdlog() { libbpf_set_print(printToSpdlog); }

}  // namespace egressd::bpf
