#include <limits>

#include "policy/object_parsers.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;

SidecarEgress readEgressListener(R& reader, const YAML::Node& item, const std::string& field) {
  SidecarEgress egress;
  reader.warnUnknownKeys(item, field, {"port", "bind", "captureMode", "hosts"});
  const YAML::Node port = R::child(item, "port");
  if (reader.expectMap(port, field + ".port")) {
    reader.warnUnknownKeys(port, field + ".port", {"number", "protocol", "name", "targetPort"});
    // A port map without a number is a unix-socket listener (number 0).
    egress.port = reader.number(R::child(port, "number"), field + ".port.number",
                                std::numeric_limits<uint32_t>::max())
                      .value_or(0);
    egress.port_name = reader.string(R::child(port, "name"), field + ".port.name").value_or("");
    egress.port_protocol = reader.string(R::child(port, "protocol"), field + ".port.protocol").value_or("");
  }
  egress.bind = reader.string(R::child(item, "bind"), field + ".bind").value_or("");
  egress.hosts = reader.stringList(R::child(item, "hosts"), field + ".hosts");
  return egress;
}

}  // namespace

Sidecar readSidecar(DocumentReader& reader, const YAML::Node& document) {
  Sidecar sidecar;
  sidecar.meta = readMeta(reader, document);
  const YAML::Node spec = R::child(document, "spec");
  if (!R::present(spec)) {
    reader.fail("spec", "is required", document);
    return sidecar;
  }
  if (!reader.expectMap(spec, "spec")) return sidecar;
  reader.warnUnknownKeys(spec, "", {"workloadSelector", "ingress", "egress", "inboundConnectionPool",
                                    "outboundTrafficPolicy"});
  const YAML::Node selector = R::child(spec, "workloadSelector");
  if (reader.expectMap(selector, "workloadSelector")) {
    sidecar.workload_selector = reader.stringMap(R::child(selector, "labels"), "workloadSelector.labels");
  }
  const YAML::Node egress = R::child(spec, "egress");
  if (reader.expectList(egress, "egress")) {
    for (size_t i = 0; i < egress.size(); ++i) {
      const std::string field = "egress[" + std::to_string(i) + "]";
      if (!reader.expectMap(egress[i], field)) {
        if (!R::present(egress[i])) reader.fail(field, "must not be empty", egress[i]);
        continue;
      }
      sidecar.egress.push_back(readEgressListener(reader, egress[i], field));
    }
  }
  const YAML::Node policy = R::child(spec, "outboundTrafficPolicy");
  if (reader.expectMap(policy, "outboundTrafficPolicy")) {
    reader.warnUnknownKeys(policy, "outboundTrafficPolicy", {"mode", "egressProxy"});
    // Istio's default mode inside an outboundTrafficPolicy is ALLOW_ANY.
    sidecar.outbound_mode = readOutboundMode(reader, R::child(policy, "mode"), "outboundTrafficPolicy.mode")
                                .value_or(OutboundMode::kAllowAny);
    if (R::present(R::child(policy, "egressProxy")) && sidecar.outbound_mode != OutboundMode::kAllowAny) {
      reader.fail("outboundTrafficPolicy.egressProxy", "can only be set with mode ALLOW_ANY",
                  R::child(policy, "egressProxy"));
    }
  }
  // Same rule as Istio: a Sidecar must configure something.
  if (!R::present(egress) && !R::present(R::child(spec, "ingress")) && !R::present(policy) &&
      !R::present(R::child(spec, "inboundConnectionPool"))) {
    reader.fail("spec", "is empty: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool", spec);
  }
  return sidecar;
}

}  // namespace egressd::policy
