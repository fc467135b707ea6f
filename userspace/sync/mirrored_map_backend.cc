#include "sync/mirrored_map_backend.h"

namespace egressd {

Result<const DesiredState*> MirroredMapBackend::live() {
  if (!mirror_) {
    auto kernel = kernel_.readLive();
    if (!kernel) return fail(kernel.error());
    mirror_ = std::move(*kernel);
  }
  return &*mirror_;
}

const DesiredState* MirroredMapBackend::liveView() {
  auto state = live();
  return state ? *state : nullptr;
}

Result<DesiredState> MirroredMapBackend::readLive() {
  auto state = live();
  if (!state) return fail(state.error());
  return **state;
}

template <typename Write, typename Mirror>
Status MirroredMapBackend::apply(Write&& write, Mirror&& mirror) {
  Status status = write();
  if (!status) {
    forget();  // the kernel may or may not hold it: read it back next time
  } else if (mirror_) {
    mirror(*mirror_);
  }
  return status;
}

Status MirroredMapBackend::putWorkload(const egressd_workload_key& key, const egressd_workload_value& value) {
  return apply([&] { return kernel_.putWorkload(key, value); }, [&](DesiredState& m) { m.workloads[key] = value; });
}

Status MirroredMapBackend::deleteWorkload(const egressd_workload_key& key) {
  return apply([&] { return kernel_.deleteWorkload(key); }, [&](DesiredState& m) { m.workloads.erase(key); });
}

Status MirroredMapBackend::putScope(uint32_t scope_id, const egressd_scope_value& value) {
  // readLive() lists active slots only, so an inactive write is a removal.
  return apply([&] { return kernel_.putScope(scope_id, value); },
               [&](DesiredState& m) {
                 if (value.flags & EGRESSD_SCOPE_F_ACTIVE) {
                   m.scopes[scope_id] = value;
                 } else {
                   m.scopes.erase(scope_id);
                 }
               });
}

Status MirroredMapBackend::putPrefix(const egressd_prefix_key& key, const egressd_prefix_value& value) {
  return apply([&] { return kernel_.putPrefix(key, value); }, [&](DesiredState& m) { m.prefixes[key] = value; });
}

Status MirroredMapBackend::deletePrefix(const egressd_prefix_key& key) {
  return apply([&] { return kernel_.deletePrefix(key); }, [&](DesiredState& m) { m.prefixes.erase(key); });
}

Status MirroredMapBackend::putPort(const egressd_port_key& key, const egressd_port_value& value) {
  return apply([&] { return kernel_.putPort(key, value); }, [&](DesiredState& m) { m.ports[key] = value; });
}

Status MirroredMapBackend::deletePort(const egressd_port_key& key) {
  return apply([&] { return kernel_.deletePort(key); }, [&](DesiredState& m) { m.ports.erase(key); });
}

Status MirroredMapBackend::putDnsName(const egressd_dns_name_key& key, const egressd_dns_name_value& value) {
  return apply([&] { return kernel_.putDnsName(key, value); }, [&](DesiredState& m) { m.dns_names[key] = value; });
}

Status MirroredMapBackend::deleteDnsName(const egressd_dns_name_key& key) {
  return apply([&] { return kernel_.deleteDnsName(key); }, [&](DesiredState& m) { m.dns_names.erase(key); });
}

Status MirroredMapBackend::putDnsServer(const egressd_dns_server_key& key, const egressd_dns_server_value& value) {
  return apply([&] { return kernel_.putDnsServer(key, value); },
               [&](DesiredState& m) { m.dns_servers[key] = value; });
}

Status MirroredMapBackend::deleteDnsServer(const egressd_dns_server_key& key) {
  return apply([&] { return kernel_.deleteDnsServer(key); }, [&](DesiredState& m) { m.dns_servers.erase(key); });
}

Status MirroredMapBackend::putGateway(uint32_t gateway_id, const egressd_gateway_value& value) {
  return apply([&] { return kernel_.putGateway(gateway_id, value); },
               [&](DesiredState& m) {
                 if (value.flags & EGRESSD_GATEWAY_F_ACTIVE) {
                   m.gateways[gateway_id] = value;
                 } else {
                   m.gateways.erase(gateway_id);
                 }
               });
}

}  // namespace egressd
