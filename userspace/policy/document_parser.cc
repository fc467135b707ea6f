// parseYaml: split a file into documents, route each by apiVersion/kind to
// its reader, validate, and turn problems into Rejections/Warnings.
#include <spdlog/spdlog.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <array>

#include "policy/describe.h"
#include "policy/object_parsers.h"
#include "policy/parser.h"
#include "policy/validation.h"
#include "policy/yaml_guard.h"

namespace egressd::policy {
namespace {

using R = DocumentReader;

constexpr std::array<std::string_view, 3> kIstioVersions = {"v1", "v1beta1", "v1alpha3"};

struct DocumentContext {
  const std::string& file;
  ParsedDocuments& out;
  const std::string& mesh_config_map;  // the ConfigMap holding the mesh config
};

std::string issueText(const FieldIssue& issue) {
  return issue.field.empty() ? issue.message : issue.field + " " + issue.message;
}

// True if one field is the other or contains it ("ports[1]" and "ports[1].protocol").
bool related(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  const std::string& shorter = a.size() <= b.size() ? a : b;
  const std::string& longer = a.size() <= b.size() ? b : a;
  if (longer.compare(0, shorter.size(), shorter) != 0) return false;
  return longer.size() == shorter.size() || longer[shorter.size()] == '.' || longer[shorter.size()] == '[';
}

// Type errors first, then the semantic rules, minus those about a field that
// already has a type error (they would repeat it in other words).
std::vector<FieldIssue> errorsOf(const R& reader, const Findings& findings) {
  std::vector<FieldIssue> errors = reader.issues();
  const bool no_spec = std::any_of(errors.begin(), errors.end(), [](const FieldIssue& i) { return i.field == "spec"; });
  for (const FieldIssue& issue : findings.errors) {
    const bool repeats = std::any_of(reader.issues().begin(), reader.issues().end(),
                                     [&](const FieldIssue& typed) { return related(typed.field, issue.field); });
    const bool about_spec = issue.field.rfind("metadata.", 0) != 0;
    if (!repeats && !(no_spec && about_spec)) errors.push_back(issue);
  }
  for (FieldIssue& issue : errors) {
    if (issue.line == 0) issue.line = reader.lineOf(issue.field);
  }
  return errors;
}

// Adds the rejection or the warnings; true if the object is accepted.
bool settle(const std::string& kind, const ObjectMeta& meta, const R& reader, const Findings& findings,
            DocumentContext& ctx, const std::string& field_prefix = "") {
  const std::vector<FieldIssue> errors = errorsOf(reader, findings);
  if (!errors.empty()) {
    std::string reason;
    for (const FieldIssue& issue : errors) {
      FieldIssue shown = issue;
      if (!shown.field.empty() && shown.field.rfind("metadata.", 0) != 0) shown.field = field_prefix + shown.field;
      reason += (reason.empty() ? "" : "; ") + issueText(shown);
    }
    ctx.out.rejected.push_back({kind, meta.namespace_, meta.name, {ctx.file, errors.front().line}, reason});
    return false;
  }
  std::vector<FieldIssue> warnings = reader.warnings();
  warnings.insert(warnings.end(), findings.warnings.begin(), findings.warnings.end());
  for (const FieldIssue& issue : warnings) {
    FieldIssue shown = issue;
    if (!shown.field.empty() && shown.field.rfind("metadata.", 0) != 0) shown.field = field_prefix + shown.field;
    const int line = issue.line != 0 ? issue.line : reader.lineOf(issue.field);
    ctx.out.warnings.push_back({kind, meta.namespace_, meta.name, {ctx.file, line}, issueText(shown)});
  }
  return true;
}

void rejectDocument(DocumentContext& ctx, const std::string& kind, const ObjectMeta& meta, int line,
                    std::string reason) {
  ctx.out.rejected.push_back({kind, meta.namespace_, meta.name, {ctx.file, line}, std::move(reason)});
}

void acceptMesh(const std::string& kind, const ObjectMeta& meta, MeshConfig mesh, int line, DocumentContext& ctx) {
  if (ctx.out.mesh) {
    rejectDocument(ctx, kind, meta, line,
                   "a mesh config is already defined at " + describe(ctx.out.mesh_source) +
                       "; only one IstioOperator or istio ConfigMap is used");
    return;
  }
  ctx.out.mesh = std::move(mesh);
  ctx.out.mesh_source = {ctx.file, line};
}

void parseIstioOperator(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  const ObjectMeta meta = readMeta(reader, doc);
  MeshConfig mesh = readMeshConfig(reader, R::child(R::child(doc, "spec"), "meshConfig"), "spec.meshConfig");
  if (settle("IstioOperator", meta, reader, validateMeshConfig(mesh), ctx, "spec.meshConfig.")) {
    acceptMesh("IstioOperator", meta, std::move(mesh), reader.documentLine(), ctx);
  }
}

// The istio ConfigMap carries MeshConfig as a YAML string in data.mesh.
void parseMeshConfigMap(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  const ObjectMeta meta = readMeta(reader, doc);
  const YAML::Node text_node = R::child(R::child(doc, "data"), "mesh");
  MeshConfig mesh;
  if (auto text = reader.string(text_node, "data.mesh")) {
    try {
      const YAML::Node inner = YAML::Load(*text);
      R inner_reader(inner);
      mesh = readMeshConfig(inner_reader, inner, "");
      // Lines inside the string are not file lines: point at data.mesh.
      for (const FieldIssue& issue : inner_reader.issues()) {
        reader.fail("data.mesh." + issue.field, issue.message, text_node);
      }
      for (const FieldIssue& issue : inner_reader.warnings()) {
        reader.warn("data.mesh." + issue.field, issue.message, text_node);
      }
    } catch (const YAML::Exception& e) {
      reader.fail("data.mesh", "is not valid YAML: " + e.msg, text_node);
    }
  }
  if (settle("ConfigMap", meta, reader, validateMeshConfig(mesh), ctx, "data.mesh.")) {
    acceptMesh("ConfigMap", meta, std::move(mesh), reader.documentLine(), ctx);
  }
}

void parseServiceEntry(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  ServiceEntry entry = readServiceEntry(reader, doc);
  entry.source = {ctx.file, reader.documentLine()};
  if (settle("ServiceEntry", entry.meta, reader, validateServiceEntry(entry), ctx)) {
    ctx.out.service_entries.push_back(std::move(entry));
  }
}

void parseSidecar(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  Sidecar sidecar = readSidecar(reader, doc);
  sidecar.source = {ctx.file, reader.documentLine()};
  if (settle("Sidecar", sidecar.meta, reader, validateSidecar(sidecar), ctx)) {
    ctx.out.sidecars.push_back(std::move(sidecar));
  }
}

void parseWorkload(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  Workload workload = readWorkload(reader, doc);
  workload.source = {ctx.file, reader.documentLine()};
  if (settle("Workload", workload.meta, reader, validateWorkload(workload), ctx)) {
    ctx.out.workloads.push_back(std::move(workload));
  }
}

// One accepted-or-rejected object of a kind with the usual shape (meta, source).
template <typename T, typename Read, typename Validate>
void parseObject(const std::string& kind, const YAML::Node& doc, DocumentContext& ctx, std::vector<T>& into,
                 Read read, Validate validate) {
  R reader(doc);
  T object = read(reader, doc);
  object.source = {ctx.file, reader.documentLine()};
  if (settle(kind, object.meta, reader, validate(object), ctx)) into.push_back(std::move(object));
}

void parseIstioNetworking(const std::string& kind, const YAML::Node& doc, DocumentContext& ctx) {
  if (kind == "ServiceEntry") {
    parseServiceEntry(doc, ctx);
  } else if (kind == "Sidecar") {
    parseSidecar(doc, ctx);
  } else if (kind == "Gateway") {
    parseObject("Gateway", doc, ctx, ctx.out.gateways, readGateway, validateGateway);
  } else if (kind == "VirtualService") {
    parseObject("VirtualService", doc, ctx, ctx.out.virtual_services, readVirtualService, validateVirtualService);
  } else {
    parseObject("DestinationRule", doc, ctx, ctx.out.destination_rules, readDestinationRule, validateDestinationRule);
  }
}

bool isIstioNetworkingKind(const std::string& kind) {
  return kind == "ServiceEntry" || kind == "Sidecar" || kind == "Gateway" || kind == "VirtualService" ||
         kind == "DestinationRule";
}

void parseDocument(const YAML::Node& doc, DocumentContext& ctx);

// `kubectl get -o yaml` output: a v1 List whose items are objects.
void parseList(const YAML::Node& doc, DocumentContext& ctx) {
  const YAML::Node items = R::child(doc, "items");
  if (!items.IsDefined() || !items.IsSequence()) return;
  for (const YAML::Node& item : items) parseDocument(item, ctx);
}

// Name and namespace only, for messages about a document not parsed further.
ObjectMeta metaOf(const YAML::Node& doc) {
  R scratch(doc);
  return readMeta(scratch, doc);
}

void route(const YAML::Node& doc, DocumentContext& ctx) {
  R reader(doc);
  const std::string api_version = reader.string(R::child(doc, "apiVersion"), "apiVersion").value_or("");
  const std::string kind = reader.string(R::child(doc, "kind"), "kind").value_or("");
  if (kind.empty()) {
    rejectDocument(ctx, "Unknown", metaOf(doc), reader.documentLine(),
                   "document has no kind; expected a Kubernetes object (apiVersion, kind, metadata)");
    return;
  }
  const size_t slash = api_version.find('/');
  const std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
  const std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);

  if (group == "networking.istio.io" && isIstioNetworkingKind(kind)) {
    if (std::find(kIstioVersions.begin(), kIstioVersions.end(), version) == kIstioVersions.end()) {
      rejectDocument(ctx, kind, metaOf(doc), reader.lineOf("apiVersion"),
                     "apiVersion \"" + api_version +
                         "\" is not supported; use networking.istio.io/v1, v1beta1 or v1alpha3");
    } else {
      parseIstioNetworking(kind, doc, ctx);
    }
  } else if (group.empty() && kind == "Service") {
    if (version != "v1") {
      rejectDocument(ctx, kind, metaOf(doc), reader.lineOf("apiVersion"),
                     "apiVersion \"" + api_version + "\" is not supported; use v1");
    } else {
      parseObject("Service", doc, ctx, ctx.out.services, readService, validateService);
    }
  } else if (group == "install.istio.io" && kind == "IstioOperator") {
    parseIstioOperator(doc, ctx);
  } else if (group.empty() && kind == "ConfigMap") {
    if (metaOf(doc).name == ctx.mesh_config_map) parseMeshConfigMap(doc, ctx);
  } else if (group == "egressd.io" && kind == "Workload") {
    if (version != "v1alpha1") {
      rejectDocument(ctx, kind, metaOf(doc), reader.lineOf("apiVersion"),
                     "apiVersion \"" + api_version + "\" is not supported; use egressd.io/v1alpha1");
    } else {
      parseWorkload(doc, ctx);
    }
  } else if (group.empty() && kind == "Namespace") {
    if (version != "v1") {
      ObjectMeta meta = metaOf(doc);
      meta.namespace_.clear();  // cluster-scoped, keyed like accepted Namespaces
      rejectDocument(ctx, kind, meta, reader.lineOf("apiVersion"),
                     "apiVersion \"" + api_version + "\" is not supported; use v1");
    } else {
      parseObject("Namespace", doc, ctx, ctx.out.namespaces, readNamespace, validateNamespace);
    }
  } else if (group.empty() && kind == "List") {
    parseList(doc, ctx);
  } else {
    // Deployments, AuthorizationPolicies...: not used by egressd.
    spdlog::debug("{}:{}: ignoring {} {}", ctx.file, reader.documentLine(), api_version, kind);
  }
}

void parseDocument(const YAML::Node& doc, DocumentContext& ctx) {
  if (!doc.IsDefined() || doc.IsNull()) return;  // empty document ("---" at the end)
  if (!doc.IsMap()) {
    rejectDocument(ctx, "Unknown", {}, lineOfNode(doc),
                   std::string("document is a ") + (doc.IsSequence() ? "list" : "scalar") +
                       ", not a Kubernetes object (apiVersion, kind, metadata)");
    return;
  }
  try {
    route(doc, ctx);
  } catch (const std::exception& e) {  // defensive: yaml-cpp throws on surprising shapes
    rejectDocument(ctx, "Unknown", {}, lineOfNode(doc), std::string("malformed document: ") + e.what());
  }
}

}  // namespace

ParsedDocuments parseYaml(std::string_view text, const std::string& file_name) {
  return parseYaml(text, file_name, "istio");
}

ParsedDocuments parseYaml(std::string_view text, const std::string& file_name, const std::string& mesh_config_map) {
  ParsedDocuments out;
  std::vector<YAML::Node> documents;
  try {
    // Before the nodes are built: inputs yaml-cpp cannot survive, and size.
    if (auto problem = checkYamlBounds(text)) {
      out.unreadable_files.push_back(file_name);
      out.warnings.push_back({"File", "", "", {file_name, problem->line},
                              problem->message + "; objects from this file keep their previous versions"});
      return out;
    }
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own depth guard (its parser recurses per level; without the
    // guard, 100,000 nested lists would overflow the stack). Its message is
    // just "bad file": say what it means.
    out.unreadable_files.push_back(file_name);
    out.warnings.push_back({"File", "", "", {file_name, e.mark.line < 0 ? 0 : e.mark.line + 1},
                            "YAML nested too deeply (the parser stops at depth " + std::to_string(e.depth()) +
                                "; Istio objects nest a few levels); objects from this file keep their previous "
                                "versions"});
    return out;
  } catch (const YAML::Exception& e) {
    // One syntax error makes the whole file unreliable: keep what it had.
    out.unreadable_files.push_back(file_name);
    out.warnings.push_back({"File", "", "", {file_name, e.mark.line < 0 ? 0 : e.mark.line + 1},
                            "YAML syntax error: " + e.msg + "; objects from this file keep their previous versions"});
    return out;
  }
  DocumentContext ctx{file_name, out, mesh_config_map};
  for (const YAML::Node& doc : documents) parseDocument(doc, ctx);
  return out;
}

void mergeDocuments(ParsedDocuments& into, ParsedDocuments&& from) {
  auto append = [](auto& to, auto& more) {
    to.insert(to.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  };
  if (from.mesh) {
    if (into.mesh) {
      into.rejected.push_back({"MeshConfig", "", "", from.mesh_source,
                               "a mesh config is already defined at " + describe(into.mesh_source) +
                                   "; only one IstioOperator or istio ConfigMap is used"});
    } else {
      into.mesh = std::move(from.mesh);
      into.mesh_source = std::move(from.mesh_source);
    }
  }
  append(into.service_entries, from.service_entries);
  append(into.sidecars, from.sidecars);
  append(into.workloads, from.workloads);
  append(into.namespaces, from.namespaces);
  append(into.gateways, from.gateways);
  append(into.virtual_services, from.virtual_services);
  append(into.destination_rules, from.destination_rules);
  append(into.services, from.services);
  append(into.rejected, from.rejected);
  append(into.warnings, from.warnings);
  append(into.unreadable_files, from.unreadable_files);
}

}  // namespace egressd::policy
