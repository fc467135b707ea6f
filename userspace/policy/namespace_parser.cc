#include "policy/object_parsers.h"

namespace egressd::policy {

// A Namespace is cluster-scoped: metadata.namespace means nothing (the API
// server drops it), so it is not read.
Namespace readNamespace(DocumentReader& reader, const YAML::Node& document) {
  Namespace ns;
  const YAML::Node metadata = DocumentReader::child(document, "metadata");
  if (!reader.expectMap(metadata, "metadata")) return ns;
  ns.meta.name = reader.string(DocumentReader::child(metadata, "name"), "metadata.name").value_or("");
  ns.meta.labels = reader.stringMap(DocumentReader::child(metadata, "labels"), "metadata.labels");
  return ns;
}

}  // namespace egressd::policy
