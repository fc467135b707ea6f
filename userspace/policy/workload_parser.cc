#include "policy/object_parsers.h"

namespace egressd::policy {

Workload readWorkload(DocumentReader& reader, const YAML::Node& document) {
  Workload workload;
  workload.meta = readMeta(reader, document);
  const YAML::Node spec = DocumentReader::child(document, "spec");
  if (reader.expectMap(spec, "spec")) {
    reader.warnUnknownKeys(spec, "spec", {"cgroup"});
    workload.cgroup = reader.string(DocumentReader::child(spec, "cgroup"), "spec.cgroup").value_or("");
  }
  return workload;
}

}  // namespace egressd::policy
