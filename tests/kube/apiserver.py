#!/usr/bin/env python3
"""A Kubernetes API server for egressd's tests (Python 3 standard library only).

It speaks enough of the real protocol that kubectl and the agent's own client
can discover, create, list (paginated, with field and label selectors), watch
(chunked streams with resourceVersions, bookmarks and 410 Gone), patch
(strategic merge for built-in kinds, JSON merge, JSON patch, server-side apply)
and delete core kinds, apps kinds, CustomResourceDefinitions and the custom
resources they define. One in-memory store, one global resourceVersion counter
(etcd's revision) and a bounded event history, so "too old" is real.

A second, plain-HTTP port on 127.0.0.1 is the tests' side channel (not part of
the Kubernetes API): drop watches, pause/resume the server, compact the history,
change the accepted token, forbid resources, count requests. See README.md.

    apiserver.py --dir DIR [--port 0] [--control-port 0] [--token T] ...

writes DIR/ca.crt, DIR/kubeconfig (token), DIR/kubeconfig-cert (client
certificate) and, once listening, DIR/server.json with the ports and paths.
"""

import argparse
import base64
import bisect
import copy
import datetime
import fractions
import json
import os
import random
import re
import signal
import socket
import ssl
import string
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.0-egressd-test",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
    "platform": "linux/amd64",
}



def pb_field(number, payload):
    """A length-delimited protobuf field (strings and messages)."""
    n, size = len(payload), b""
    while True:
        size += bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)])
        n >>= 7
        if not n:
            break
    return bytes([number << 3 | 2]) + size + payload


def openapi_v2(rts):
    """gnostic's openapi_v2.Document, protobuf-encoded: swagger (1), info (2),
    paths (8) and empty definitions (9). Each served kind's PATCH operation
    names its group-version-kind and the dryRun and fieldValidation query
    parameters: what kubectl looks for before using them. No schemas, so
    kubectl validates nothing client-side and merges built-in kinds with its
    own struct tags."""
    def query_param(name):
        sub = pb_field(2, b"query") + pb_field(4, name.encode())
        return pb_field(8, pb_field(1, pb_field(2, pb_field(3, sub))))

    paths = b""
    for (group, version, plural), rt in sorted(rts.items()):
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        gvk = f"group: \"{group}\"\nkind: {rt.kind}\nversion: {version}\n"
        op = (query_param("dryRun") + query_param("fieldManager") + query_param("fieldValidation") +
              query_param("force") +
              pb_field(13, pb_field(1, b"x-kubernetes-group-version-kind") + pb_field(2, pb_field(2, gvk.encode()))))
        item = pb_field(8, op)
        paths += pb_field(2, pb_field(1, f"{prefix}{ns}/{plural}/{{name}}".encode()) + pb_field(2, item))
    return (pb_field(1, b"2.0") + pb_field(2, pb_field(1, b"Kubernetes") + pb_field(2, b"v1.32.0")) +
            pb_field(8, paths) + pb_field(9, b""))

# ---------------------------------------------------------------------------
# Protobuf request bodies: kubectl's typed commands (create namespace,
# create configmap/secret/serviceaccount/deployment/service, run) send
# application/vnd.kubernetes.protobuf. A decoder for those kinds' fields, from
# the field numbers of k8s.io/api's generated.proto; fields not listed here
# are dropped (use kubectl apply -f for those).

PB = {
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   5: ("uid", "string"), 6: ("resourceVersion", "string"), 7: ("generation", "int"),
                   11: ("labels", "map:string"), 12: ("annotations", "map:string"),
                   13: ("ownerReferences", "[OwnerReference"), 14: ("finalizers", "[string")},
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"),
                       7: ("blockOwnerDeletion", "bool")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:string"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "string"),
               4: ("stringData", "map:string"), 5: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "[string")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 3: ("imagePullSecrets", "[LocalObjectReference"),
                       4: ("automountServiceAccountToken", "bool")},
    "LocalObjectReference": {1: ("name", "string")},
    "Pod": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", "[Container"), 20: ("initContainers", "[Container"),
                3: ("restartPolicy", "string"), 4: ("terminationGracePeriodSeconds", "int"),
                6: ("dnsPolicy", "string"), 7: ("nodeSelector", "map:string"),
                8: ("serviceAccountName", "string"), 10: ("nodeName", "string"), 11: ("hostNetwork", "bool"),
                15: ("imagePullSecrets", "[LocalObjectReference"), 19: ("schedulerName", "string"),
                22: ("tolerations", "[Toleration"), 30: ("enableServiceLinks", "bool")},
    "Toleration": {1: ("key", "string"), 2: ("operator", "string"), 3: ("value", "string"),
                   4: ("effect", "string"), 5: ("tolerationSeconds", "int")},
    "Container": {1: ("name", "string"), 2: ("image", "string"), 3: ("command", "[string"),
                  4: ("args", "[string"), 5: ("workingDir", "string"), 6: ("ports", "[ContainerPort"),
                  7: ("env", "[EnvVar"), 8: ("resources", "ResourceRequirements"),
                  13: ("terminationMessagePath", "string"), 14: ("imagePullPolicy", "string"),
                  16: ("stdin", "bool"), 17: ("stdinOnce", "bool"), 18: ("tty", "bool"),
                  20: ("terminationMessagePolicy", "string")},
    "ContainerPort": {1: ("name", "string"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                      4: ("protocol", "string"), 5: ("hostIP", "string")},
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
    "ResourceRequirements": {1: ("limits", "map:Quantity"), 2: ("requests", "map:Quantity")},
    "Service": {1: ("metadata", "ObjectMeta"), 2: ("spec", "ServiceSpec")},
    "ServiceSpec": {1: ("ports", "[ServicePort"), 2: ("selector", "map:string"), 3: ("clusterIP", "string"),
                    4: ("type", "string"), 10: ("externalName", "string"), 18: ("clusterIPs", "[string")},
    "ServicePort": {1: ("name", "string"), 2: ("protocol", "string"), 3: ("port", "int"),
                    4: ("targetPort", "IntOrString"), 5: ("nodePort", "int"), 6: ("appProtocol", "string")},
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "int"), 2: ("selector", "LabelSelector"),
                       3: ("template", "PodTemplateSpec")},
    "LabelSelector": {1: ("matchLabels", "map:string"), 2: ("matchExpressions", "[LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[string")},
}
PB_KINDS = {"ConfigMap", "Secret", "Namespace", "ServiceAccount", "Pod", "Service", "Deployment"}


def pb_fields(buf):
    """(field number, wire type, value) of one protobuf message."""
    i = 0

    def varint():
        nonlocal i
        n = shift = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n
    while i < len(buf):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            yield num, wire, varint()
        elif wire == 2:
            n = varint()
            yield num, wire, buf[i:i + n]
            i += n
        elif wire == 1:
            yield num, wire, int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wire == 5:
            yield num, wire, int.from_bytes(buf[i:i + 4], "little")
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def pb_scalar(typ, wire, v):
    if typ == "string":
        return v.decode()
    if typ == "bytes":
        return base64.b64encode(v).decode()
    if typ == "bool":
        return bool(v)
    if typ == "int":
        return v - (1 << 64) if v >= 1 << 63 else v
    if typ == "Quantity":
        return next((x.decode() for n, _, x in pb_fields(v) if n == 1), "0")
    if typ == "IntOrString":
        f = {n: x for n, _, x in pb_fields(v)}
        return f.get(2, 0) if f.get(1, 0) == 0 else f.get(3, b"").decode()
    return pb_message(typ, v)


def pb_message(name, buf):
    schema, out = PB[name], {}
    for num, wire, v in pb_fields(buf):
        if num not in schema:
            continue
        field, typ = schema[num]
        if typ.startswith("map:"):
            entry = {n: x for n, _, x in pb_fields(v)}
            key = entry.get(1, b"").decode()
            out.setdefault(field, {})[key] = pb_scalar(typ[4:], 2, entry.get(2, b""))
        elif typ.startswith("["):
            out.setdefault(field, []).append(pb_scalar(typ[1:], wire, v))
        else:
            out[field] = pb_scalar(typ, wire, v)
    # gogo-protobuf writes every non-pointer field: drop the zero values
    # (omitempty), except in maps and lists
    return {k: v for k, v in out.items() if v not in ("", 0, False, {}, None) or isinstance(v, list)}


def decode_protobuf(body):
    if body[:4] != b"k8s\x00":
        raise bad_request("protobuf body without the k8s envelope")
    unknown = {n: v for n, _, v in pb_fields(body[4:])}
    tm = {n: v.decode() for n, _, v in pb_fields(unknown.get(1, b""))}
    api_version, kind = tm.get(1, ""), tm.get(2, "")
    if kind not in PB_KINDS:
        raise ApiError(415, "UnsupportedMediaType", f"this test API server decodes protobuf only for "
                       f"{', '.join(sorted(PB_KINDS))}, not {kind}: send JSON (kubectl apply -f)")
    obj = pb_message(kind, unknown.get(2, b""))
    return {"apiVersion": api_version, "kind": kind, **obj}


# ---------------------------------------------------------------------------
# Errors as Kubernetes Status objects


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            s["details"] = self.details
        return s


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{rt.resource_ref()} "{name}" not found',
                    {"name": name, "group": rt.group, "kind": rt.plural})


def expired(message):
    return ApiError(410, "Expired", message)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(rt, name, causes):
    msg = f'{rt.kind} "{name}" is invalid: ' + ", ".join(f'{c["field"]}: {c["message"]}' for c in causes)
    return ApiError(422, "Invalid", msg, {"name": name, "group": rt.group, "kind": rt.kind,
                                           "causes": [{"reason": "FieldValueInvalid", **c} for c in causes]})


# ---------------------------------------------------------------------------
# Resource types


class ResourceType:
    def __init__(self, group, versions, plural, kind, namespaced, singular=None,
                 short_names=(), categories=(), status=True, builtin=True, fields=(),
                 storage_version=None, verbs=None, printer_columns=None):
        self.group, self.versions, self.plural, self.kind = group, list(versions), plural, kind
        self.namespaced, self.singular = namespaced, singular or kind.lower()
        self.short_names, self.categories = list(short_names), list(categories)
        self.has_status, self.builtin = status, builtin
        self.fields = {"metadata.name", "metadata.namespace"} | set(fields)
        self.storage_version = storage_version or self.versions[0]
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch",
                               "update", "watch"]
        self.printer_columns = printer_columns or {}   # version -> additionalPrinterColumns

    @property
    def key(self):
        return (self.group, self.plural)

    def api_version(self, version):
        return f"{self.group}/{version}" if self.group else version

    def resource_ref(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self):
        out = [{"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                "kind": self.kind, "verbs": self.verbs}]
        if self.short_names:
            out[0]["shortNames"] = self.short_names
        if self.categories:
            out[0]["categories"] = self.categories
        if self.has_status:
            out.append({"name": self.plural + "/status", "singularName": "", "namespaced": self.namespaced,
                        "kind": self.kind, "verbs": ["get", "patch", "update"]})
        return out


POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")


def builtin_types():
    R = ResourceType
    return [
        R("", ["v1"], "namespaces", "Namespace", False, short_names=["ns"], fields=["status.phase"],
          verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        R("", ["v1"], "pods", "Pod", True, short_names=["po"], categories=["all"], fields=POD_FIELDS),
        R("", ["v1"], "services", "Service", True, short_names=["svc"], categories=["all"],
          verbs=["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]),
        R("", ["v1"], "configmaps", "ConfigMap", True, short_names=["cm"], status=False),
        R("", ["v1"], "secrets", "Secret", True, status=False, fields=["type"]),
        R("", ["v1"], "serviceaccounts", "ServiceAccount", True, short_names=["sa"], status=False),
        R("", ["v1"], "nodes", "Node", False, short_names=["no"], fields=["spec.unschedulable"]),
        R("", ["v1"], "endpoints", "Endpoints", True, short_names=["ep"], status=False),
        R("apps", ["v1"], "deployments", "Deployment", True, short_names=["deploy"], categories=["all"]),
        R("apps", ["v1"], "replicasets", "ReplicaSet", True, short_names=["rs"], categories=["all"]),
        R("apps", ["v1"], "statefulsets", "StatefulSet", True, short_names=["sts"], categories=["all"]),
        R("apps", ["v1"], "daemonsets", "DaemonSet", True, short_names=["ds"], categories=["all"]),
        R("batch", ["v1"], "jobs", "Job", True, categories=["all"]),
        R("batch", ["v1"], "cronjobs", "CronJob", True, short_names=["cj"], categories=["all"]),
        R("rbac.authorization.k8s.io", ["v1"], "clusterroles", "ClusterRole", False, status=False),
        R("rbac.authorization.k8s.io", ["v1"], "clusterrolebindings", "ClusterRoleBinding", False,
          status=False),
        R("rbac.authorization.k8s.io", ["v1"], "roles", "Role", True, status=False),
        R("rbac.authorization.k8s.io", ["v1"], "rolebindings", "RoleBinding", True, status=False),
        R("apiextensions.k8s.io", ["v1"], "customresourcedefinitions", "CustomResourceDefinition", False,
          short_names=["crd", "crds"], categories=["api-extensions"]),
    ]


def version_priority(v):
    """Kubernetes' version ordering: GA > beta > alpha, higher numbers first;
    other strings last, alphabetically. Returns a sort key (smaller first)."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", v)
    if not m:
        return (3, 0, 0, v)
    major, level, minor = int(m.group(1)), m.group(2), int(m.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -major, -minor, v)


# ---------------------------------------------------------------------------
# Selectors

LABEL_REQ = re.compile(r"\s*(!?)\s*([A-Za-z0-9._/-]+)\s*(?:(==|=|!=|>|<)\s*([A-Za-z0-9._-]*)"
                       r"|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def split_top_level(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p for p in parts if p.strip()]


def parse_label_selector(s):
    reqs = []
    for part in split_top_level(s or ""):
        m = LABEL_REQ.fullmatch(part)
        if not m:
            raise bad_request(f"unable to parse requirement: found '{part.strip()}', expected a selector")
        neg, key, op, val, setop, setvals = m.groups()
        if neg and (op or setop):
            raise bad_request(f"unable to parse requirement: {part.strip()}")
        if neg:
            reqs.append(("!", key, None))
        elif op in ("=", "=="):
            reqs.append(("=", key, val))
        elif op == "!=":
            reqs.append(("!=", key, val))
        elif op in (">", "<"):
            try:
                reqs.append((op, key, int(val)))
            except ValueError:
                raise bad_request(f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer")
        elif setop:
            reqs.append((setop, key, {v.strip() for v in setvals.split(",") if v.strip()}))
        else:
            reqs.append(("exists", key, None))
    return reqs


def labels_match(reqs, labels):
    labels = labels or {}
    for op, key, val in reqs:
        have = key in labels
        v = labels.get(key)
        if op == "=" and v != val:
            return False
        if op == "!=" and have and v == val:
            return False
        if op == "in" and (not have or v not in val):
            return False
        if op == "notin" and have and v in val:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
        if op in (">", "<"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if (op == ">" and not n > val) or (op == "<" and not n < val):
                return False
    return True


def parse_field_selector(s, rt):
    reqs = []
    for part in (s or "").split(","):
        if not part.strip():
            continue
        m = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*?)\s*", part)
        if not m:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{part}'")
        field, op, val = m.groups()
        if field not in rt.fields:
            raise bad_request(f'"{field}" is not a known field selector: only "' +
                              '", "'.join(sorted(rt.fields)) + '"')
        reqs.append((field, op != "!=", val))
    return reqs


def field_value(obj, field):
    cur = obj
    for part in field.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    return all((field_value(obj, f) == v) == eq for f, eq, v in reqs)


# ---------------------------------------------------------------------------
# Patches

# Strategic merge patch: the merge key of each list field of the built-in kinds
# this server serves (the patchMergeKey struct tags of k8s.io/api), by field
# name; "ports" depends on whether it is a container's or a Service's.
SMP_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "ownerReferences": "uid", "conditions": "type", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "secrets": "name",
    "readinessGates": None, "schedulingGates": "name",
}
SMP_PRIMITIVE_MERGE = {"finalizers"}


def smp_list_strategy(path):
    field = path[-1] if path else ""
    if field == "ports":
        if len(path) >= 2 and path[-2] in ("containers", "initContainers", "ephemeralContainers"):
            return "containerPort"
        return "port"
    if field in SMP_PRIMITIVE_MERGE:
        return ""
    return SMP_MERGE_KEYS.get(field)


def strip_directives(v):
    if isinstance(v, dict):
        return {k: strip_directives(x) for k, x in v.items()
                if not k.startswith("$") and x is not None}
    if isinstance(v, list):
        return [strip_directives(x) for x in v if not (isinstance(x, dict) and x.get("$patch"))]
    return v


def smp_merge_map(orig, patch, path):
    if not isinstance(orig, dict):
        orig = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return strip_directives(patch)
    if directive == "delete":
        return None
    result = dict(orig)
    orders = {}
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
        elif k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in v]
        elif k.startswith("$"):
            continue
        elif v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            merged = smp_merge_map(result.get(k), v, path + [k])
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list):
            result[k] = smp_merge_list(result.get(k), v, path + [k])
        else:
            result[k] = v
    for f, order in orders.items():
        if isinstance(result.get(f), list):
            result[f] = smp_order(result[f], order, smp_list_strategy(path + [f]))
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def smp_merge_list(orig, patch, path):
    key = smp_list_strategy(path)
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return strip_directives(patch)
    if key is None:
        return strip_directives(patch)
    result = list(orig) if isinstance(orig, list) else []
    if key == "":
        for p in patch:
            if p not in result:
                result.append(p)
        return result
    for p in patch:
        if not isinstance(p, dict):
            continue
        idx = next((i for i, o in enumerate(result) if isinstance(o, dict) and o.get(key) == p.get(key)), None)
        if p.get("$patch") == "delete":
            result = [o for o in result if not (isinstance(o, dict) and o.get(key) == p.get(key))]
        elif idx is None:
            result.append(strip_directives(p))
        else:
            result[idx] = smp_merge_map(result[idx], p, path)
    return result


def smp_order(items, order, key):
    def ident(x):
        return x.get(key) if (key and isinstance(x, dict)) else x
    wanted = [ident(o) for o in order]
    pos = {json.dumps(w, sort_keys=True): i for i, w in enumerate(wanted)}
    return sorted(items, key=lambda x: pos.get(json.dumps(ident(x), sort_keys=True), len(pos)))


def merge_patch(orig, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(orig) if isinstance(orig, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902 JSON patch."""
    doc = copy.deepcopy(doc)

    def parent_of(parts):
        cur = doc
        for p in parts[:-1]:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def get(parts):
        cur = doc
        for p in parts:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        return cur

    def remove(parts):
        par = parent_of(parts)
        return par.pop(int(parts[-1])) if isinstance(par, list) else par.pop(parts[-1])

    def add(parts, value):
        nonlocal doc
        if not parts:
            doc = value
            return
        par = parent_of(parts)
        if isinstance(par, list):
            if parts[-1] == "-":
                par.append(value)
            else:
                par.insert(int(parts[-1]), value)
        else:
            par[parts[-1]] = value

    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    try:
        for op in ops:
            kind, parts = op.get("op"), json_pointer(op.get("path", ""))
            if kind == "add":
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                remove(parts)
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "move":
                v = remove(json_pointer(op["from"]))
                add(parts, v)
            elif kind == "copy":
                add(parts, copy.deepcopy(get(json_pointer(op["from"]))))
            elif kind == "test":
                if get(parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                   f"request: testing value {op.get('path')} failed")
            else:
                raise bad_request(f"unknown json patch operation {kind!r}")
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                       f"json patch {e.__class__.__name__}: {e}")
    return doc


# ---------------------------------------------------------------------------
# Server-side apply (a reduced model: one owner per leaf field)


def leaf_paths(obj, prefix=()):
    """Field paths of an applied configuration; list items of keyed lists are
    addressed by their merge key, other lists are one leaf."""
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out |= leaf_paths(v, prefix + (k,))
            elif isinstance(v, list) and v and smp_list_strategy(list(prefix) + [k]):
                key = smp_list_strategy(list(prefix) + [k])
                for item in v:
                    if isinstance(item, dict) and key in item:
                        out |= leaf_paths(item, prefix + (k, f"[{key}={item[key]}]"))
                    else:
                        out.add(prefix + (k,))
            else:
                out.add(prefix + (k,))
    return out


def encode_fields(paths):
    root = {}
    for p in sorted(paths):
        cur = root
        for part in p:
            name = ("k:" + json.dumps({part[1:-1].split("=", 1)[0]: part[1:-1].split("=", 1)[1]},
                                      separators=(",", ":"))) if part.startswith("[") else "f:" + part
            cur = cur.setdefault(name, {})
    return root


def decode_fields(tree, prefix=()):
    out = set()
    for name, sub in (tree or {}).items():
        if name == ".":
            continue
        if name.startswith("f:"):
            part = name[2:]
        elif name.startswith("k:"):
            kv = json.loads(name[2:])
            k = next(iter(kv))
            part = f"[{k}={kv[k]}]"
        else:
            continue
        if sub:
            out |= decode_fields(sub, prefix + (part,))
        else:
            out.add(prefix + (part,))
    return out


SERVER_SET_METADATA = {"resourceVersion", "managedFields", "uid", "creationTimestamp", "generation",
                       "deletionTimestamp", "deletionGracePeriodSeconds", "name", "namespace", "selfLink"}


def owned_paths(obj):
    """The leaf fields a manager can own in an object (not its type, status
    or what the server sets)."""
    return {p for p in leaf_paths({k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "status")})
            if not (p[0] == "metadata" and len(p) > 1 and p[1] in SERVER_SET_METADATA)}


def get_path(obj, path):
    cur = obj
    for part in path:
        if part.startswith("[") and isinstance(cur, list):
            k, v = part[1:-1].split("=", 1)
            cur = next((i for i in cur if isinstance(i, dict) and str(i.get(k)) == v), None)
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
        if cur is None:
            return None
    return cur


def remove_path(obj, path):
    cur = obj
    for part in path[:-1]:
        cur = get_path(cur, (part,))
        if cur is None:
            return
    last = path[-1]
    if last.startswith("[") and isinstance(cur, list):
        k, v = last[1:-1].split("=", 1)
        cur[:] = [i for i in cur if not (isinstance(i, dict) and str(i.get(k)) == v)]
    elif isinstance(cur, dict):
        cur.pop(last, None)


# ---------------------------------------------------------------------------
# Quantities and pod QoS

QUANTITY_SUFFIX = {"": 1, "m": fractions.Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9,
                   "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
                   "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "n": fractions.Fraction(1, 10**9),
                   "u": fractions.Fraction(1, 10**6)}


def parse_quantity(q):
    m = re.fullmatch(r"\s*([+-]?[0-9.]+)(?:[eE]([+-]?\d+))?([a-zA-Z]*)\s*", str(q))
    if not m or m.group(3) not in QUANTITY_SUFFIX:
        raise ValueError(f"quantities must match the regular expression: {q}")
    n = fractions.Fraction(m.group(1)) * QUANTITY_SUFFIX[m.group(3)]
    if m.group(2):
        n *= fractions.Fraction(10) ** int(m.group(2))
    return n


def pod_spec_mutable_view(spec):
    """A pod's spec without what an update may change (images, deadlines,
    tolerations, grace period): two pods whose views differ cannot be one
    update apart."""
    view = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                      "terminationGracePeriodSeconds")}
    for field in ("containers", "initContainers"):
        if field in view:
            view[field] = [{k: v for k, v in c.items() if k != "image"} for c in view[field]]
    return view


DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_NAME = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
LABEL_KEY = re.compile(r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?" + LABEL_NAME)
LABEL_VALUE = re.compile(LABEL_NAME + "?")


def pod_qos(spec):
    """status.qosClass as the API server computes it (cpu and memory only)."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for name in ("cpu", "memory"):
            r = req.get(name, lim.get(name))
            l = lim.get(name)
            try:
                if (r is not None and parse_quantity(r) != 0) or (l is not None and parse_quantity(l) != 0):
                    any_set = True
                if l is None or parse_quantity(l) == 0 or r is None or parse_quantity(r) != parse_quantity(l):
                    guaranteed = False
            except ValueError:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


# ---------------------------------------------------------------------------
# Structural schemas of CRDs: pruning and basic type checks


def schema_apply(value, schema, path, errors, pruned=None):
    """Prunes fields the schema does not know (unless preserved) and collects
    type errors; returns the pruned value."""
    if not isinstance(schema, dict) or schema.get("x-kubernetes-int-or-string") and isinstance(value, (int, str)):
        return value
    t = schema.get("type")
    if value is None:
        if not schema.get("nullable"):
            return None
        return None
    type_ok = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
               "string": lambda v: isinstance(v, str),
               "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
               or (isinstance(v, float) and v.is_integer()),
               "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
               "boolean": lambda v: isinstance(v, bool)}
    if t in type_ok and not type_ok[t](value):
        errors.append({"field": ".".join(path), "message": f'Invalid value: "{type_name(value)}": '
                       f'{".".join(path)} in body must be of type {t}: "{type_name(value)}"'})
        return value
    if "enum" in schema and value not in schema["enum"]:
        errors.append({"field": ".".join(path), "message": f"Unsupported value: {json.dumps(value)}: "
                       "supported values: " + ", ".join(json.dumps(e) for e in schema["enum"])})
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        out = {}
        for k, v in value.items():
            if props is not None and k in props:
                out[k] = schema_apply(v, props[k], path + [k], errors, pruned)
            elif isinstance(addl, dict):
                out[k] = schema_apply(v, addl, path + [k], errors, pruned)
            elif addl is True or preserve or (props is None and addl is None and t != "object"):
                out[k] = v
            elif props is None and addl is None and preserve is None and t is None:
                out[k] = v
            elif pruned is not None:
                pruned.append(".".join(path + [k]))
        for req in schema.get("required") or []:
            if req not in out:
                errors.append({"field": ".".join(path + [req]), "message": "Required value"})
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [schema_apply(v, schema["items"], path + [f"[{i}]"], errors, pruned) for i, v in enumerate(value)]
    return value


def type_name(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number"}.get(type(v), "null")


# ---------------------------------------------------------------------------
# The store


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj_key(ns, name):
    return f"{ns}/{name}" if ns else name


class Event:
    __slots__ = ("rv", "type", "rkey", "obj", "prev")

    def __init__(self, rv, type_, rkey, obj, prev):
        self.rv, self.type, self.rkey, self.obj, self.prev = rv, type_, rkey, obj, prev


class Store:
    def __init__(self, history_size):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 1
        self.objects = {}          # (group, plural) -> {"ns/name": obj}
        self.history = []          # Events in rv order
        self.history_rvs = []
        self.history_size = history_size
        self.compacted = 1         # a watch or list must start at or after this rv
        self.types = {}            # (group, version, plural) -> ResourceType
        self.by_key = {}           # (group, plural) -> ResourceType
        self.cluster_ips = 0
        self.sorted_keys = {}      # (group, plural) -> (rv, sorted object keys)

    # -- types
    def register(self, rt):
        self.by_key[rt.key] = rt
        for v in rt.versions:
            self.types[(rt.group, v, rt.plural)] = rt
        self.objects.setdefault(rt.key, {})

    def unregister(self, rt):
        self.by_key.pop(rt.key, None)
        for k in [k for k, t in self.types.items() if t is rt]:
            del self.types[k]

    def groups(self):
        out = {}
        for (g, v, _), rt in self.types.items():
            out.setdefault(g, set()).add(v)
        return {g: sorted(vs, key=version_priority) for g, vs in out.items()}

    def type_for_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for (g, v, _), rt in self.types.items():
            if g == group and v == version and rt.kind == kind:
                return rt
        return None

    # -- history
    def record(self, type_, rkey, obj, prev):
        ev = Event(self.rv, type_, rkey, obj, prev)
        self.history.append(ev)
        self.history_rvs.append(ev.rv)
        if len(self.history) > self.history_size * 2:
            drop = len(self.history) - self.history_size
            self.compacted = max(self.compacted, self.history[drop - 1].rv)
            del self.history[:drop]
            del self.history_rvs[:drop]
        self.cond.notify_all()

    def events_after(self, rv):
        """Events newer than rv still in the (effective) history window, or None
        if some of them have been dropped (the caller's rv is too old)."""
        if len(self.history) > self.history_size:
            cut = len(self.history) - self.history_size
            self.compacted = max(self.compacted, self.history[cut - 1].rv)
        if rv < self.compacted:
            return None
        i = bisect.bisect_right(self.history_rvs, rv)
        return self.history[i:]

    def compact(self):
        with self.lock:
            self.compacted = self.rv
            self.history.clear()
            self.history_rvs.clear()
            self.cond.notify_all()

    def snapshot(self, rkey, rv):
        """The objects of one resource as they were at rv (None: too old)."""
        if rv >= self.rv:
            return self.objects.get(rkey, {})
        cur = dict(self.objects.get(rkey, {}))
        after = self.events_after(rv)
        if after is None:
            return None
        for ev in reversed(after):
            if ev.rkey != rkey:
                continue
            k = obj_key(ev.obj["metadata"].get("namespace"), ev.obj["metadata"]["name"])
            if ev.prev is None:
                cur.pop(k, None)
            else:
                cur[k] = ev.prev
        return cur


# ---------------------------------------------------------------------------
# The API


class Api:
    """Request semantics over the store: what a request means, independent of HTTP."""

    def __init__(self, store, args):
        self.store = store
        self.args = args
        self.keep_client_uid = args.keep_client_uid
        for rt in builtin_types():
            store.register(rt)
        with store.lock:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self.create(store.by_key[("", "namespaces")], None,
                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, {})
            # as in a cluster: the API server's own Service holds the first service IP
            self.create(store.by_key[("", "services")], "default",
                        {"apiVersion": "v1", "kind": "Service",
                         "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                                       "provider": "kubernetes"}},
                         "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443,
                                                                      "targetPort": 6443}]}}, {})

    # -- output
    @staticmethod
    def present(rt, obj, version, with_type=True):
        """The object as served at one version (stored objects are never
        modified in place, so a shallow copy is enough to serialize)."""
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        if not with_type:
            return rest
        # apiVersion and kind first, as the real server writes them
        return {"apiVersion": rt.api_version(version), "kind": rt.kind, **rest}

    # -- create
    def create(self, rt, ns, obj, query, dry_run=False, operation="Update"):
        s = self.store
        if not isinstance(obj, dict):
            raise bad_request("the body of the request is not a JSON object")
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise bad_request("metadata must be an object")
        if rt.namespaced:
            if md.get("namespace") and ns and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            ns = ns or md.get("namespace") or "default"
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
            ns = None
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789")
                                                      for _ in range(5))
        name = md.get("name")
        if not name:
            raise invalid(rt, "", [{"field": "metadata.name", "message": "Required value: name or "
                                    "generateName is required"}])
        if rt.key == ("", "namespaces") and not DNS1123_LABEL.fullmatch(name):
            raise invalid(rt, name, [{"field": "metadata.name", "message": f'Invalid value: "{name}": a '
                                      "lowercase RFC 1123 label must consist of lower case alphanumeric "
                                      "characters or '-', and must start and end with an alphanumeric "
                                      "character"}])
        if rt.key == ("", "services") and not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
            raise invalid(rt, name, [{"field": "metadata.name", "message": f'Invalid value: "{name}": a DNS-1035 '
                                      "label must consist of lower case alphanumeric characters or '-', start "
                                      "with an alphabetic character, and end with an alphanumeric character"}])
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name) or len(name) > 253:
            raise invalid(rt, name, [{"field": "metadata.name", "message": f'Invalid value: "{name}": a '
                                      "lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                      "characters, '-' or '.', and must start and end with an alphanumeric "
                                      "character"}])
        with s.lock:
            if ns is not None:
                nsobj = s.objects[("", "namespaces")].get(ns)
                if nsobj is None:
                    raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                                   {"name": ns, "kind": "namespaces"})
                if nsobj["metadata"].get("deletionTimestamp"):
                    raise ApiError(403, "Forbidden", f'{rt.plural} "{name}" is forbidden: unable to create '
                                   f'new content in namespace {ns} because it is being terminated')
            objs = s.objects[rt.key]
            k = obj_key(ns, name)
            if k in objs:
                raise ApiError(409, "AlreadyExists", f'{rt.resource_ref()} "{name}" already exists',
                               {"name": name, "group": rt.group, "kind": rt.plural})
            client_uid = md.get("uid")
            for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "selfLink",
                      "deletionGracePeriodSeconds"):
                md.pop(f, None)
            md["uid"] = str(uuid.uuid4())
            if self.keep_client_uid and client_uid:
                # test-only: a test that must know a pod's uid before the Pod
                # exists (its cgroup first) names it; kube-apiserver ignores it
                try:
                    md["uid"] = str(uuid.UUID(client_uid))
                except ValueError:
                    raise invalid(rt, name, [{"field": "metadata.uid", "message": f'Invalid value: "{client_uid}"'}])
            md["creationTimestamp"] = now_rfc3339()
            if rt.plural not in ("configmaps", "secrets", "namespaces", "serviceaccounts", "endpoints") \
                    and rt.group != "rbac.authorization.k8s.io":
                md["generation"] = 1
            obj = self.prepare(rt, obj, None, query)
            self.manage_fields(rt, obj, None, query, operation)
            if dry_run:
                return obj
            s.rv += 1
            obj["metadata"]["resourceVersion"] = str(s.rv)
            objs[k] = obj
            s.record("ADDED", rt.key, obj, None)
            self.after_write(rt, None, obj)
            return obj

    def prepare(self, rt, obj, old, query):
        """Defaults, status handling and validation of a created or updated object."""
        obj["apiVersion"] = rt.api_version(rt.storage_version) if not rt.builtin else \
            rt.api_version(rt.versions[0])
        obj["kind"] = rt.kind
        md = obj["metadata"]
        for f in ("labels", "annotations"):
            if f in md and md[f] is None:
                del md[f]
            elif f in md and (not isinstance(md[f], dict) or
                              any(not isinstance(v, str) for v in md[f].values())):
                raise bad_request(f"json: cannot unmarshal metadata.{f}: values must be strings")
        bad = [f"metadata.labels: Invalid value: {json.dumps(k if not LABEL_KEY.fullmatch(k) else v)}"
               for k, v in (md.get("labels") or {}).items()
               if not LABEL_KEY.fullmatch(k) or not LABEL_VALUE.fullmatch(v)]
        if bad:
            raise invalid(rt, md.get("name", ""), [{"field": "metadata.labels", "message": b.split(": ", 1)[1]}
                                                   for b in bad])
        if old is not None and rt.has_status:
            # the main resource does not write status; the status subresource does
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        key = rt.key
        if key == ("", "namespaces"):
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            if old is None:
                obj["status"] = {"phase": "Active"}
            md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        elif key == ("", "pods"):
            spec = obj.get("spec")
            if not isinstance(spec, dict) or not spec.get("containers"):
                raise invalid(rt, md["name"], [{"field": "spec.containers", "message": "Required value"}])
            for c in spec.get("containers", []) + spec.get("initContainers", []):
                res = c.get("resources") or {}
                if res.get("limits"):
                    reqs = res.setdefault("requests", {})
                    for n, v in res["limits"].items():
                        reqs.setdefault(n, v)
            if old is None:
                obj["status"] = {"phase": "Pending", "qosClass": pod_qos(spec)}
            elif pod_spec_mutable_view(spec) != pod_spec_mutable_view(old.get("spec") or {}):
                raise invalid(rt, md["name"], [{"field": "spec", "message": "Forbidden: pod updates may not "
                                                "change fields other than `spec.containers[*].image`,"
                                                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                                                "`spec.tolerations` (only additions to existing tolerations),"
                                                "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 "
                                                "if it was previously negative)"}])
        elif key == ("", "services"):
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if old is not None and "clusterIP" not in spec and (old.get("spec") or {}).get("clusterIP"):
                spec["clusterIP"] = old["spec"]["clusterIP"]
                spec["clusterIPs"] = old["spec"].get("clusterIPs", [spec["clusterIP"]])
            if spec["type"] != "ExternalName" and "clusterIP" not in spec:
                self.store.cluster_ips += 1
                n = self.store.cluster_ips
                spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
            if spec.get("clusterIP") and "clusterIPs" not in spec:
                spec["clusterIPs"] = [spec["clusterIP"]]
            for p in spec.get("ports") or []:
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
            spec.setdefault("sessionAffinity", "None")
            if old is None:
                obj["status"] = {"loadBalancer": {}}
        elif key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.validate_crd(rt, obj, old)
        elif not rt.builtin:
            self.validate_custom(rt, obj, query)
        if old is not None and md.get("generation") is not None:
            if {k: v for k, v in obj.items() if k not in ("metadata", "status")} != \
                    {k: v for k, v in old.items() if k not in ("metadata", "status")}:
                md["generation"] = old["metadata"].get("generation", 1) + 1
            else:
                md["generation"] = old["metadata"].get("generation", 1)
        return obj

    def validate_crd(self, rt, obj, old):
        md, spec = obj["metadata"], obj.get("spec") or {}
        names = spec.get("names") or {}
        group, plural = spec.get("group"), names.get("plural")
        causes = []
        if not group or "." not in group:
            causes.append({"field": "spec.group", "message": f'Invalid value: "{group}": should be a '
                           "domain with at least one dot"})
        if not plural or not names.get("kind"):
            causes.append({"field": "spec.names", "message": "Required value: plural and kind"})
        elif md["name"] != f"{plural}.{group}":
            causes.append({"field": "metadata.name", "message": f'Invalid value: "{md["name"]}": must be '
                           "spec.names.plural+\".\"+spec.group"})
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append({"field": "spec.scope", "message": "Unsupported value: must be Namespaced or Cluster"})
        versions = spec.get("versions") or []
        if not versions or sum(1 for v in versions if v.get("storage")) != 1:
            causes.append({"field": "spec.versions", "message": "Invalid value: must have exactly one "
                           "version marked as storage version"})
        if causes:
            raise invalid(rt, md["name"], causes)
        if old is not None:
            ospec = old.get("spec") or {}
            if ospec.get("group") != group or (ospec.get("names") or {}).get("plural") != plural:
                raise invalid(rt, md["name"], [{"field": "spec", "message": "Invalid value: group and "
                                                "names.plural are immutable"}])
        storage = next(v["name"] for v in versions if v.get("storage"))
        stored = list((old or {}).get("status", {}).get("storedVersions") or [])
        if storage not in stored:
            stored.append(storage)
        cond = lambda t, r, m: {"type": t, "status": "True", "lastTransitionTime": now_rfc3339(),
                                "reason": r, "message": m}
        obj["status"] = {
            "acceptedNames": {k: v for k, v in names.items()},
            "conditions": [cond("NamesAccepted", "NoConflicts", "no conflicts found"),
                           cond("Established", "InitialNamesAccepted", "the initial names have been accepted")],
            "storedVersions": stored,
        }
        obj["status"]["acceptedNames"].setdefault("singular", names.get("kind", "").lower())
        obj["status"]["acceptedNames"].setdefault("listKind", names.get("kind", "") + "List")
        spec.setdefault("conversion", {"strategy": "None"})
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")

    def crd_type(self, crd):
        spec = crd["spec"]
        names = spec["names"]
        served = [v for v in spec["versions"] if v.get("served")]
        served.sort(key=lambda v: version_priority(v["name"]))
        storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
        status = any((v.get("subresources") or {}).get("status") is not None for v in served)
        rt = ResourceType(spec["group"], [v["name"] for v in served] or [storage], names["plural"],
                          names["kind"], spec["scope"] == "Namespaced", singular=names.get("singular"),
                          short_names=names.get("shortNames") or (), categories=names.get("categories") or (),
                          status=status, builtin=False, storage_version=storage,
                          printer_columns={v["name"]: v.get("additionalPrinterColumns") or [] for v in served})
        rt.schemas = {v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in spec["versions"]}
        rt.crd_name = crd["metadata"]["name"]
        for v in served:
            for sf in v.get("selectableFields") or []:
                rt.fields.add(sf["jsonPath"].lstrip("."))
        return rt

    def validate_custom(self, rt, obj, query):
        version = obj.pop("_requestVersion", rt.storage_version)
        schema = getattr(rt, "schemas", {}).get(version)
        if not schema:
            return
        errors, unknown = [], []
        md = obj.pop("metadata")
        top = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        pruned = schema_apply(top, {**schema, "required": [r for r in schema.get("required") or []
                                                            if r not in ("metadata", "apiVersion", "kind")]},
                              [], errors, unknown)
        # fieldValidation (kubectl sends Strict unless --validate=false/warn)
        if unknown and query.get("fieldValidation") == "Strict":
            obj["metadata"] = md
            raise bad_request(f'{rt.kind} in version "{version}" cannot be handled as a {rt.kind}: strict '
                              "decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
        if unknown and query.get("fieldValidation") == "Warn":
            query.setdefault("_warnings", []).extend(f'unknown field "{u}"' for u in unknown)
        for k in list(obj):
            if k not in ("apiVersion", "kind"):
                del obj[k]
        obj.update(pruned)
        obj["metadata"] = md
        if errors:
            raise invalid(rt, md.get("name", ""), errors)

    def after_write(self, rt, old, new):
        """Side effects of a committed write: CRDs change what is served."""
        if rt.key != ("apiextensions.k8s.io", "customresourcedefinitions"):
            return
        s = self.store
        if new is not None:
            crt = self.crd_type(new)
            existing = s.by_key.get(crt.key)
            if existing is not None:
                if old is not None and old.get("spec") == new.get("spec"):
                    return
                # a changed definition is served anew: its open watches end
                s.unregister(existing)
            s.register(crt)
        else:
            spec = old["spec"]
            crt = s.by_key.get((spec["group"], spec["names"]["plural"]))
            if crt is not None:
                for k, o in list(s.objects.get(crt.key, {}).items()):
                    self.remove(crt, k, o)
                s.unregister(crt)
                s.objects.pop(crt.key, None)

    def manage_fields(self, rt, obj, old, query, operation, manager=None):
        """metadata.managedFields of a create or update: the fields it set or
        changed now belong to its manager (operation Update) and to no other;
        server-side apply writes its own entries (see apply())."""
        md = obj["metadata"]
        if operation == "Apply":
            return
        manager = manager or query.get("fieldManager") or "unknown"
        mf = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])
        if old is not None and "managedFields" in md and md["managedFields"] != \
                old["metadata"].get("managedFields"):
            mf = copy.deepcopy(md["managedFields"] or [])
        if old is None:
            changed = owned_paths(obj)
        else:
            changed = {p for p in owned_paths(obj) | owned_paths(old) if get_path(obj, p) != get_path(old, p)}
        present = {p for p in changed if get_path(obj, p) is not None}
        entry = None
        for e in mf:
            if e.get("manager") == manager and e.get("operation") == "Update":
                entry = e
            else:
                e["fieldsV1"] = encode_fields(decode_fields(e.get("fieldsV1")) - changed)
        if entry is None:
            entry = {"manager": manager, "operation": "Update", "apiVersion": obj["apiVersion"],
                     "fieldsType": "FieldsV1", "fieldsV1": {}}
            mf.append(entry)
        entry["time"] = now_rfc3339()
        entry["fieldsV1"] = encode_fields((decode_fields(entry.get("fieldsV1")) - changed) | present)
        md["managedFields"] = [e for e in mf if e.get("fieldsV1")]

    # -- get / list
    def get(self, rt, ns, name):
        with self.store.lock:
            obj = self.store.objects.get(rt.key, {}).get(obj_key(ns if rt.namespaced else None, name))
            if obj is None:
                raise not_found(rt, name)
            return obj

    def list(self, rt, ns, query):
        s = self.store
        lsel = parse_label_selector(query.get("labelSelector", ""))
        fsel = parse_field_selector(query.get("fieldSelector", ""), rt)
        limit = int(query.get("limit") or 0)
        rv_param = query.get("resourceVersion", "")
        match = query.get("resourceVersionMatch", "")
        cont = query.get("continue", "")
        with s.lock:
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    list_rv, start = int(tok["rv"]), tok["start"]
                except Exception:
                    raise bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                      "(version meta.k8s.io/v1)")
                if rv_param:
                    raise bad_request("specifying resource version is not allowed when using continue")
            else:
                start = ""
                if rv_param == "0" and match in ("", "NotOlderThan"):
                    limit = 0   # served from the watch cache: the whole list
                    list_rv = s.rv
                elif rv_param and match == "Exact":
                    list_rv = int(rv_param)
                elif rv_param and int(rv_param) > s.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {rv_param}, current: {s.rv}",
                                   {"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}],
                                    "retryAfterSeconds": 1})
                else:
                    list_rv = s.rv
            objs = s.snapshot(rt.key, list_rv)
            if objs is None:
                if cont:
                    raise expired("The provided continue parameter is too old to display a consistent list "
                                  "result. You can start a new list without the continue parameter, or use "
                                  "the continue token in this response to retrieve the remainder of the "
                                  "results. Continuing with the provided token results in an inconsistent "
                                  "list - objects that were created, modified, or deleted between the time "
                                  "the first chunk was returned and now may show up in the list.")
                raise expired(f"too old resource version: {list_rv} ({s.compacted})")
            if list_rv >= s.rv:
                # the pages of one list at the current revision sort once
                cached = s.sorted_keys.get(rt.key)
                if cached is None or cached[0] != s.rv:
                    cached = (s.rv, sorted(objs))
                    s.sorted_keys[rt.key] = cached
                keys = cached[1]
            else:
                keys = sorted(objs)
            prefix = (ns + "/") if (ns and rt.namespaced) else ""
            items, nxt, scanned = [], None, 0
            i = bisect.bisect_left(keys, start) if start else 0
            for idx in range(i, len(keys)):
                k = keys[idx]
                if prefix and not k.startswith(prefix):
                    continue
                o = objs[k]
                if lsel and not labels_match(lsel, o["metadata"].get("labels")):
                    continue
                if fsel and not fields_match(fsel, o):
                    continue
                if limit and len(items) == limit:
                    nxt = k
                    break
                items.append(o)
            remaining = None
            if nxt is not None:
                rest = [k for k in keys[bisect.bisect_left(keys, nxt):] if not prefix or k.startswith(prefix)]
                remaining = len(rest)
        meta = {"resourceVersion": str(list_rv)}
        if nxt is not None:
            raw = json.dumps({"v": "meta.k8s.io/v1", "rv": list_rv, "start": nxt},
                             separators=(",", ":")).encode()
            meta["continue"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
            if not lsel and not fsel:
                meta["remainingItemCount"] = remaining
        return items, meta

    # -- update / patch
    def update(self, rt, ns, name, obj, query, subresource=None, dry_run=False, operation="Update"):
        s = self.store
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata", {}), dict):
            raise bad_request("the body of the request is not a JSON object")
        with s.lock:
            ns = ns if rt.namespaced else None
            objs = s.objects.get(rt.key, {})
            k = obj_key(ns, name)
            old = objs.get(k)
            md = obj.setdefault("metadata", {})
            if md.get("name", name) != name:
                raise bad_request(f"the name of the object ({md.get('name')}) does not match the name on the URL "
                                  f"({name})")
            if old is None:
                raise not_found(rt, name)
            want_rv = md.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.resource_ref()} "{name}": '
                               "the object has been modified; please apply your changes to the latest version "
                               "and try again", {"name": name, "group": rt.group, "kind": rt.plural})
            if subresource == "status":
                new = copy.deepcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                    return old, False
            else:
                new = obj
                nmd = new["metadata"]
                for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation"):
                    if f in old["metadata"]:
                        nmd[f] = old["metadata"][f]
                    else:
                        nmd.pop(f, None)
                nmd["name"] = name
                if ns:
                    nmd["namespace"] = ns
                else:
                    nmd.pop("namespace", None)
                new = self.prepare(rt, new, old, query)
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if operation != "Apply":
                self.manage_fields(rt, new, old, query, "Update")
            if self.same(new, old):
                return old, False
            if dry_run:
                return new, False
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                self.remove(rt, k, new)
                return new, False
            s.rv += 1
            new["metadata"]["resourceVersion"] = str(s.rv)
            objs[k] = new
            s.record("MODIFIED", rt.key, new, old)
            self.after_write(rt, old, new)
            return new, False

    @staticmethod
    def same(a, b):
        strip = lambda o: {**o, "metadata": {k: v for k, v in o["metadata"].items()
                                             if k not in ("managedFields", "resourceVersion")}}
        return strip(a) == strip(b)

    def patch(self, rt, ns, name, body, content_type, query, subresource=None, dry_run=False):
        ct = content_type.split(";")[0].strip()
        with self.store.lock:
            try:
                patch = json.loads(body or b"null")
            except ValueError as e:
                raise bad_request(f"error decoding patch: {e}")
            if ct == "application/apply-patch+yaml":
                return self.apply(rt, ns, name, patch, query, subresource, dry_run)
            try:
                old = self.get(rt, ns, name)
            except ApiError:
                raise
            current = copy.deepcopy(old)
            if ct == "application/merge-patch+json":
                if not isinstance(patch, dict):
                    raise bad_request("merge patch must be a JSON object")
                new = merge_patch(current, patch)
            elif ct == "application/strategic-merge-patch+json":
                if not rt.builtin:
                    raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                                   "format - accepted media types include: application/json-patch+json, "
                                   "application/merge-patch+json, application/apply-patch+yaml")
                if not isinstance(patch, dict):
                    raise bad_request("strategic merge patch must be a JSON object")
                new = smp_merge_map(current, patch, [])
            elif ct == "application/json-patch+json":
                new = json_patch(current, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown "
                               f"format - accepted media types include: application/json-patch+json, "
                               f"application/merge-patch+json, application/apply-patch+yaml")
            if not isinstance(new, dict):
                raise bad_request("the patched object is not a JSON object")
            if "resourceVersion" not in (patch.get("metadata") or {} if isinstance(patch, dict) else {}):
                new.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
            if not rt.builtin:
                new["_requestVersion"] = query.get("_version", rt.storage_version)
            obj, _ = self.update(rt, ns, name, new, query, subresource, dry_run)
            return obj, False

    def apply(self, rt, ns, name, patch, query, subresource, dry_run):
        """Server-side apply, reduced: the applied configuration is merged into
        the live object; fields this manager applied before and no longer
        applies are removed unless another manager owns them; a field another
        applier owns with a different value is a conflict unless force=true."""
        manager = query.get("fieldManager")
        if not manager:
            raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
        if not isinstance(patch, dict):
            raise bad_request("apply patch must be an object")
        force = query.get("force") in ("true", "1")
        applied = strip_directives(patch)
        applied_meta = applied.get("metadata") or {}
        mine = leaf_paths({k: v for k, v in applied.items() if k not in ("apiVersion", "kind")})
        mine = {p for p in mine if p[:2] not in (("metadata", "name"), ("metadata", "namespace"))}
        try:
            old = self.get(rt, ns, name)
        except ApiError as e:
            if e.code != 404 or subresource:
                raise
            old = None
        entries = copy.deepcopy((old or {}).get("metadata", {}).get("managedFields") or [])
        others = {}   # field -> (manager, apiVersion) of the other managers owning it
        previously = set()
        for e in entries:
            fields = decode_fields(e.get("fieldsV1"))
            if e.get("manager") == manager and e.get("operation") == "Apply":
                previously = fields
            elif e.get("manager") != manager:
                for f in fields:
                    others[f] = (e["manager"], e.get("apiVersion", "v1").rpartition("/")[2])
        if old is not None:
            conflicts = [(f, m) for f, m in others.items() if f in mine and
                         get_path(old, f) != get_path(applied, f)]
            if conflicts and not force:
                msg = f"Apply failed with {len(conflicts)} conflict" + ("s" if len(conflicts) > 1 else "") + \
                      ": " + "; ".join(f'conflict with "{m}" using {v}: .{".".join(f)}' for f, (m, v) in conflicts)
                raise ApiError(409, "Conflict", msg, {"causes": [{"reason": "FieldManagerConflict",
                                                                   "message": f'conflict with "{m}" using {v}',
                                                                   "field": "." + ".".join(f)}
                                                                  for f, (m, v) in conflicts]})
            if force:
                for f, _ in conflicts:
                    others.pop(f, None)
            new = smp_merge_map(copy.deepcopy(old), applied, []) if rt.builtin else \
                merge_patch(copy.deepcopy(old), applied)
            for f in previously - mine:
                if f not in others:
                    remove_path(new, f)
        else:
            new = copy.deepcopy(applied)
        new.setdefault("metadata", {})
        new["metadata"]["name"] = name
        entries = [e for e in entries if not (e.get("manager") == manager and e.get("operation") == "Apply")]
        if force and old is not None:
            # a forced apply takes the conflicting fields; equal values stay shared
            taken = {f for f in mine if f in others and get_path(old, f) != get_path(applied, f)}
            for e in entries:
                e["fieldsV1"] = encode_fields(decode_fields(e.get("fieldsV1")) - taken)
            entries = [e for e in entries if e.get("fieldsV1")]
        entries.append({"manager": manager, "operation": "Apply",
                        "apiVersion": rt.api_version(query.get("_version", rt.versions[0])),
                        "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": encode_fields(mine)})
        new["metadata"]["managedFields"] = entries
        if not rt.builtin:
            new["_requestVersion"] = query.get("_version", rt.storage_version)
        if old is None:
            return self.create(rt, ns, new, query, dry_run, operation="Apply"), True
        if applied_meta.get("resourceVersion") is None:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        obj, _ = self.update(rt, ns, name, new, query, subresource, dry_run, operation="Apply")
        return obj, False

    # -- delete
    def delete(self, rt, ns, name, options, query, dry_run=False):
        s = self.store
        with s.lock:
            ns = ns if rt.namespaced else None
            k = obj_key(ns, name)
            old = s.objects.get(rt.key, {}).get(k)
            if old is None:
                raise not_found(rt, name)
            pre = (options or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"]["uid"]:
                raise ApiError(409, "Conflict", f'Precondition failed: UID in precondition: {pre["uid"]}, '
                               f'UID in object meta: {old["metadata"]["uid"]}')
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Precondition failed: resourceVersion mismatch")
            if dry_run:
                return old, 200
            policy = (options or {}).get("propagationPolicy") or query.get("propagationPolicy") or ""
            if (options or {}).get("orphanDependents") is True:
                policy = "Orphan"
            if rt.key == ("", "namespaces"):
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["status"] = {"phase": "Terminating"}
                s.rv += 1
                new["metadata"]["resourceVersion"] = str(s.rv)
                s.objects[rt.key][k] = new
                s.record("MODIFIED", rt.key, new, old)
                for rkey, objs in list(s.objects.items()):
                    ort = s.by_key.get(rkey)
                    if ort is None or not ort.namespaced:
                        continue
                    for ok, o in list(objs.items()):
                        if o["metadata"].get("namespace") == name:
                            self.remove(ort, ok, o)
                self.remove(rt, k, new)
                return new, 200
            if old["metadata"].get("finalizers"):
                if old["metadata"].get("deletionTimestamp"):
                    return old, 202
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                s.rv += 1
                new["metadata"]["resourceVersion"] = str(s.rv)
                s.objects[rt.key][k] = new
                s.record("MODIFIED", rt.key, new, old)
                return new, 202
            gone = self.remove(rt, k, old)
            self.collect_dependents(old["metadata"]["uid"], policy)
            return gone, 200

    def remove(self, rt, k, obj):
        s = self.store
        s.objects[rt.key].pop(k, None)
        s.rv += 1
        gone = copy.deepcopy(obj)
        gone["metadata"]["resourceVersion"] = str(s.rv)
        s.record("DELETED", rt.key, gone, obj)
        self.after_write(rt, obj, None)
        return gone

    def collect_dependents(self, uid, policy):
        """The garbage collector, synchronously: dependents of a deleted owner
        are deleted (Background/Foreground) or lose the reference (Orphan)."""
        s = self.store
        for rkey, objs in list(s.objects.items()):
            rt = s.by_key.get(rkey)
            if rt is None:
                continue
            for k, o in list(objs.items()):
                refs = o["metadata"].get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                if policy == "Orphan":
                    new = copy.deepcopy(o)
                    new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not new["metadata"]["ownerReferences"]:
                        del new["metadata"]["ownerReferences"]
                    s.rv += 1
                    new["metadata"]["resourceVersion"] = str(s.rv)
                    objs[k] = new
                    s.record("MODIFIED", rkey, new, o)
                elif len([r for r in refs if r.get("uid") != uid]) == 0:
                    self.remove(rt, k, o)
                    self.collect_dependents(o["metadata"]["uid"], policy)


# ---------------------------------------------------------------------------
# Tables (kubectl get's default output asks for them)


def human_age(ts):
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < 120:
        return f"{max(s, 0)}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h"
    return f"{h // 24}d"


def jsonpath_value(obj, path):
    cur = obj
    for part in re.findall(r"[^.\[\]]+", path):
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def table_columns(rt, version):
    cols = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique "
             "within a namespace.", "priority": 0}]
    extra = []
    if rt.key == ("", "pods"):
        extra = [("Status", "string", "status.phase"), ("Node", "string", "spec.nodeName"),
                 ("IP", "string", "status.podIP")]
    elif rt.key == ("", "services"):
        extra = [("Type", "string", "spec.type"), ("Cluster-IP", "string", "spec.clusterIP")]
    elif rt.key == ("", "namespaces"):
        extra = [("Status", "string", "status.phase")]
    elif not rt.builtin:
        extra = [(c["name"], c.get("type", "string"), c["jsonPath"].lstrip("."))
                 for c in rt.printer_columns.get(version, []) if c.get("name") != "Age"]
    for name, typ, _ in extra:
        cols.append({"name": name, "type": typ, "format": "", "description": "", "priority": 0})
    cols.append({"name": "Age", "type": "date", "format": "", "description": "", "priority": 0})
    return cols, [p for _, _, p in extra]


def table_row(rt, obj, paths, include, version, api):
    cells = [obj["metadata"]["name"]]
    for p in paths:
        v = jsonpath_value(obj, p)
        cells.append("<none>" if v is None else v if isinstance(v, (int, float, bool, str)) else
                     json.dumps(v, separators=(",", ":")))
    cells.append(human_age(obj["metadata"].get("creationTimestamp")))
    row = {"cells": cells}
    if include == "Object":
        row["object"] = api.present(rt, obj, version)
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": copy.deepcopy(obj["metadata"])}
    return row


def wants_table(accept):
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v", "v1")
        if part.strip().split(";")[0] in ("application/json", "*/*", "application/*"):
            return None
    return None


# ---------------------------------------------------------------------------
# HTTP


class Shared:
    """What the request handlers and the control channel share."""

    def __init__(self, args):
        self.args = args
        self.store = Store(args.history)
        self.api = Api(self.store, args)
        self.tokens = set(args.token or [])
        self.forbidden = []            # [{"verb":..., "group":..., "resource":..., "namespace":...}]
        self.counts = {}               # "verb path" -> n
        self.log = []
        self.lock = threading.Lock()
        self.conns = set()             # open connections (sockets)
        self.watches = {}              # id -> Watch
        self.paused = None             # None | "refuse" | "hang"
        self.resumed = threading.Event()
        self.resumed.set()
        self.bookmark_interval = args.bookmark_interval
        self.too_old_as_status = args.too_old_watch == "status"
        self.watch_delay = 0.0
        self.aggregated_discovery = not args.no_aggregated_discovery

    def count(self, key, entry):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            self.log.append(entry)
            if len(self.log) > 5000:
                del self.log[:1000]


class Watch:
    def __init__(self, wid, handler, rt, ns, rv):
        self.id, self.handler, self.rt, self.ns, self.rv = wid, handler, rt, ns, rv
        self.stop = None   # None | "reset" | "end" | "expire"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "egressd-test-apiserver"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.shared.args.verbose:
            sys.stderr.write("apiserver: " + (fmt % args) + "\n")

    # -- plumbing
    def send_json(self, code, obj, headers=None, content_type="application/json"):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        for w in getattr(self, "query", {}).get("_warnings", []):
            quoted = w.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            self.send_header("Warning", f'299 - "{quoted}"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.status_sent = code

    def send_error_status(self, err):
        self.send_json(err.code, err.status(), err.headers)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def dispatch(self):
        sh = self.shared
        if sh.paused == "hang":
            sh.resumed.wait()
        self.status_sent = 0
        self.verb = "other"
        self.counted = False
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        self.query = query
        self.url_path = url.path.rstrip("/") or "/"
        try:
            body = self.read_body() if self.command in ("POST", "PUT", "PATCH", "DELETE") else b""
            user = self.authenticate()
            self.route(self.url_path, query, body, user)
        except ApiError as e:
            self.send_error_status(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:
            traceback.print_exc()
            self.send_error_status(ApiError(500, "InternalError", f"Internal error occurred: {e}"))
        finally:
            self.count()

    def count(self):
        """Counts the request once, by verb and path (a watch when it starts)."""
        if self.counted:
            return
        self.counted = True
        url = urllib.parse.urlsplit(self.path)
        self.shared.count(f"{self.verb} {self.url_path}",
                          {"method": self.command, "verb": self.verb, "path": self.url_path, "query": url.query,
                           "code": self.status_sent, "time": time.time()})

    def authenticate(self):
        sh = self.shared
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                subj = dict(x[0] for x in cert.get("subject", ()))
                return subj.get("commonName", "client")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:].strip() in sh.tokens:
            return "system:serviceaccount:egressd:egressd"
        if sh.args.anonymous:
            return "system:anonymous"
        raise ApiError(401, "Unauthorized", "Unauthorized")

    def authorize(self, user, verb, rt, ns, name):
        for rule in self.shared.forbidden:
            if rule.get("verb", "*") not in ("*", verb):
                continue
            if rule.get("resource", "*") not in ("*", rt.plural):
                continue
            if rule.get("group", "*") not in ("*", rt.group):
                continue
            if rule.get("namespace", "*") not in ("*", ns or ""):
                continue
            scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
            raise ApiError(403, "Forbidden", f'{rt.resource_ref()}{(" " + chr(34) + name + chr(34)) if name else ""}'
                           f' is forbidden: User "{user}" cannot {verb} resource "{rt.plural}" in API group '
                           f'"{rt.group}" {scope}', {"name": name or "", "group": rt.group, "kind": rt.plural})

    # -- routing
    def route(self, path, query, body, user):
        sh, store = self.shared, self.shared.store
        segs = [urllib.parse.unquote(s) for s in path.split("/") if s]
        if path in ("/healthz", "/livez", "/readyz"):
            self.verb = "health"
            self.send_text(200, "ok")
            return
        self.verb = "discovery"
        if path == "/version":
            self.send_json(200, SERVER_VERSION)
            return
        if path == "/openapi/v3":
            self.send_json(200, {"paths": {}})
            return
        if path == "/openapi/v2":
            # kubectl's validation and dry-run need the document; it only asks
            # for protobuf
            with store.lock:
                body = openapi_v2(dict(store.types))
            self.send_response(200)
            self.send_header("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.status_sent = 200
            return
        if segs[:1] == ["openapi"]:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if path in ("/api", "/apis") and self.shared.aggregated_discovery and self.aggregated_discovery(path):
            return
        if path == "/api":
            host = self.headers.get("Host", "")
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                                 [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            return
        if path == "/apis":
            with store.lock:
                groups = store.groups()
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1",
                                 "groups": [self.group_info(g, vs) for g, vs in sorted(groups.items()) if g]})
            return
        if segs[:1] == ["apis"] and len(segs) == 2:
            with store.lock:
                vs = store.groups().get(segs[1])
            if not vs:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self.send_json(200, {"kind": "APIGroup", "apiVersion": "v1", **self.group_info(segs[1], vs)})
            return
        if segs[:1] == ["api"] and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if not rest:
            with store.lock:
                rts = [rt for (g, v, _), rt in store.types.items() if g == group and v == version]
            if not rts:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            resources = [r for rt in sorted(rts, key=lambda t: t.plural) for r in rt.discovery()]
            self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                 "groupVersion": f"{group}/{version}" if group else version,
                                 "resources": resources})
            return
        watch_path = False
        if rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, plural, rest = rest[1], rest[2], rest[3:]
        elif rest:
            plural, rest = rest[0], rest[1:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[0] if rest else None
        sub = rest[1] if len(rest) > 1 else None
        watch = watch_path or query.get("watch") in ("true", "1")
        verb = {"GET": "watch" if watch else ("get" if name else "list"), "HEAD": "get",
                "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}[self.command]
        self.verb = verb
        with store.lock:
            rt = store.types.get((group, version, plural))
        if rt is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if ns is not None and not rt.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub is not None and (sub != "status" or not rt.has_status) and not \
                (rt.key == ("", "namespaces") and sub == "finalize"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self.verb = verb
        self.authorize(user, verb, rt, ns, name)
        query["_version"] = version
        dry_run = query.get("dryRun") == "All"
        api = sh.api
        if verb == "watch":
            self.serve_watch(rt, ns, version, query, name)
        elif verb == "get":
            obj = api.get(rt, ns, name)
            self.send_object(rt, obj, version, 200)
        elif verb == "list":
            items, meta = api.list(rt, ns, query)
            self.send_list(rt, items, meta, version)
        elif verb == "create":
            if name:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                               "requested resource")
            obj = self.decode(body)
            self.check_type(rt, obj, version)
            if not rt.builtin:
                obj["_requestVersion"] = version
            self.send_object(rt, api.create(rt, ns, obj, query, dry_run), version, 201)
        elif verb == "update":
            obj = self.decode(body)
            self.check_type(rt, obj, version)
            if not rt.builtin:
                obj["_requestVersion"] = version
            if sub == "finalize":
                sub = None
            res, created = api.update(rt, ns, name, obj, query, sub, dry_run)
            self.send_object(rt, res, version, 201 if created else 200)
        elif verb == "patch":
            res, created = api.patch(rt, ns, name, body, self.headers.get("Content-Type", ""), query, sub,
                                     dry_run)
            self.send_object(rt, res, version, 201 if created else 200)
        elif verb == "delete":
            options = json.loads(body) if body.strip() else {}
            obj, code = api.delete(rt, ns, name, options, query, dry_run)
            self.send_object(rt, obj, version, code)
        elif verb == "deletecollection":
            options = json.loads(body) if body.strip() else {}
            items, _ = api.list(rt, ns, {k: v for k, v in query.items() if k in ("labelSelector",
                                                                                   "fieldSelector")})
            for o in items:
                try:
                    api.delete(rt, o["metadata"].get("namespace"), o["metadata"]["name"], options, query,
                               dry_run)
                except ApiError:
                    pass
            self.send_list(rt, [], {"resourceVersion": str(store.rv)}, version)

    def aggregated_discovery(self, path):
        """Aggregated discovery (apidiscovery.k8s.io/v2, what kubectl 1.30+
        asks for first): every group, version and resource in one answer."""
        wanted = None
        for part in (self.headers.get("Accept") or "").split(","):
            params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
            if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList" \
                    and params.get("v") in ("v2", "v2beta1"):
                wanted = params["v"]
                break
            if part.strip().split(";")[0] in ("application/json", "*/*"):
                break
        if wanted is None:
            return False
        store = self.shared.store
        with store.lock:
            groups = store.groups()
            types = dict(store.types)
        items = []
        for g, versions in sorted(groups.items()):
            if (g == "") != (path == "/api"):
                continue
            vlist = []
            for v in versions:
                resources = []
                for (tg, tv, _), rt in sorted(types.items()):
                    if tg != g or tv != v:
                        continue
                    kind = {"group": g, "version": v, "kind": rt.kind}
                    r = {"resource": rt.plural, "responseKind": kind,
                         "scope": "Namespaced" if rt.namespaced else "Cluster",
                         "singularResource": rt.singular, "verbs": rt.verbs}
                    if rt.short_names:
                        r["shortNames"] = rt.short_names
                    if rt.categories:
                        r["categories"] = rt.categories
                    if rt.has_status:
                        r["subresources"] = [{"subresource": "status", "responseKind": kind,
                                              "verbs": ["get", "patch", "update"]}]
                    resources.append(r)
                vlist.append({"version": v, "resources": resources, "freshness": "Current"})
            items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": vlist})
        self.send_json(200, {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{wanted}",
                             "metadata": {}, "items": items},
                       content_type=f"application/json;g=apidiscovery.k8s.io;v={wanted};as=APIGroupDiscoveryList")
        return True

    def group_info(self, g, versions):
        vs = [{"groupVersion": f"{g}/{v}", "version": v} for v in versions]
        return {"name": g, "versions": vs, "preferredVersion": vs[0]}

    def decode(self, body):
        if self.headers.get("Content-Type", "").startswith("application/vnd.kubernetes.protobuf"):
            try:
                return decode_protobuf(body)
            except (ValueError, IndexError, UnicodeDecodeError) as e:
                raise bad_request(f"the object provided is unrecognized: protobuf: {e}")
        try:
            obj = json.loads(body or b"null")
        except ValueError as e:
            raise bad_request(f"the object provided is unrecognized: {e}")
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        return obj

    def check_type(self, rt, obj, version):
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if av and av != rt.api_version(version):
            raise bad_request(f"the API version in the data ({av}) does not match the expected API version "
                              f"({rt.api_version(version)})")
        if kind and kind != rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")

    def send_text(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.status_sent = code

    def send_object(self, rt, obj, version, code):
        table_v = wants_table(self.headers.get("Accept"))
        if table_v:
            cols, paths = table_columns(rt, version)
            self.send_json(code, {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_v}",
                                  "metadata": {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                  "columnDefinitions": cols,
                                  "rows": [table_row(rt, obj, paths, "Metadata", version, self.shared.api)]})
            return
        self.send_json(code, self.shared.api.present(rt, obj, version))

    def send_list(self, rt, items, meta, version):
        api = self.shared.api
        table_v = wants_table(self.headers.get("Accept"))
        if table_v:
            cols, paths = table_columns(rt, version)
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            include = (q.get("includeObject") or ["Metadata"])[-1]
            self.send_json(200, {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_v}", "metadata": meta,
                                 "columnDefinitions": cols,
                                 "rows": [table_row(rt, o, paths, include, version, api) for o in items]})
            return
        self.send_json(200, {"kind": rt.kind + "List", "apiVersion": rt.api_version(version), "metadata": meta,
                             "items": [api.present(rt, o, version, with_type=not rt.builtin) for o in items]})

    # -- watch
    def serve_watch(self, rt, ns, version, query, name):
        sh, store, api = self.shared, self.shared.store, self.shared.api
        lsel = parse_label_selector(query.get("labelSelector", ""))
        fsel = parse_field_selector(query.get("fieldSelector", ""), rt)
        if name:
            fsel.append(("metadata.name", True, name))
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        initial_events = query.get("sendInitialEvents") in ("true", "1")
        timeout = float(query.get("timeoutSeconds") or sh.args.watch_timeout)
        rv_param = query.get("resourceVersion", "")
        table_v = wants_table(self.headers.get("Accept"))
        cols, paths = table_columns(rt, version)
        first_table = [True]

        def matches(o):
            if o is None:
                return False
            md = o["metadata"]
            if ns and rt.namespaced and md.get("namespace") != ns:
                return False
            return labels_match(lsel, md.get("labels")) and fields_match(fsel, o)

        def encode(type_, obj):
            if type_ in ("ERROR",):
                payload = obj
            elif type_ == "BOOKMARK":
                payload = {"kind": rt.kind, "apiVersion": rt.api_version(version), "metadata": obj}
            elif table_v:
                t = {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_v}", "metadata":
                     {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                     "rows": [table_row(rt, obj, paths, query.get("includeObject", "Metadata"), version, api)]}
                if first_table[0]:
                    t["columnDefinitions"] = cols
                    first_table[0] = False
                else:
                    t["columnDefinitions"] = None
                payload = t
            else:
                payload = api.present(rt, obj, version)
            return json.dumps({"type": type_, "object": payload}, separators=(",", ":")).encode() + b"\n"

        initial = []
        with store.lock:
            if rv_param in ("", "0") or initial_events:
                start_rv = store.rv
                objs = store.objects.get(rt.key, {})
                initial = [o for _, o in sorted(objs.items()) if matches(o)]
                if rv_param not in ("", "0") and initial_events:
                    start_rv = max(store.rv, int(rv_param))
            else:
                try:
                    start_rv = int(rv_param)
                except ValueError:
                    raise bad_request(f"invalid resource version: {rv_param}")
                if store.events_after(start_rv) is None:
                    err = expired(f"too old resource version: {start_rv} ({store.compacted})")
                    if sh.too_old_as_status:
                        raise err
                    initial = None
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.status_sent = 200
        self.wfile.flush()
        self.count()

        def write(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        if initial is None:
            write(encode("ERROR", err.status()))
            self.end_chunks()
            return
        with sh.lock:
            wid = max(sh.watches, default=0) + 1
            w = Watch(wid, self, rt, ns, start_rv)
            sh.watches[wid] = w
        try:
            for o in initial:
                write(encode("ADDED", o))
            if initial_events and bookmarks:
                write(encode("BOOKMARK", {"resourceVersion": str(start_rv),
                                          "annotations": {"k8s.io/initial-events-end": "true"}}))
            last = start_rv
            deadline = time.monotonic() + timeout
            next_bm = time.monotonic() + sh.bookmark_interval
            while True:
                with store.lock:
                    while True:
                        now = time.monotonic()
                        if w.stop or now >= deadline or store.by_key.get(rt.key) is not rt:
                            break
                        evs = store.events_after(last)
                        if evs is None or evs:
                            break
                        if bookmarks and now >= next_bm and sh.paused is None:
                            break
                        store.cond.wait(min(deadline - now, max(next_bm - now, 0.05) if bookmarks else 1.0, 1.0))
                    evs = store.events_after(last)
                    cur = store.rv
                if w.stop == "reset":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if w.stop == "expire" or evs is None:
                    write(encode("ERROR", expired(f"too old resource version: {last} ({store.compacted})")
                                 .status()))
                    break
                if w.stop == "end" or time.monotonic() >= deadline:
                    if bookmarks:
                        write(encode("BOOKMARK", {"resourceVersion": str(cur)}))
                    break
                if sh.paused == "hang":
                    sh.resumed.wait()
                    continue
                for ev in evs:
                    if ev.rkey != rt.key:
                        continue
                    now_m, was_m = matches(ev.obj), matches(ev.prev)
                    if ev.type == "ADDED" and now_m:
                        write(encode("ADDED", ev.obj))
                    elif ev.type == "DELETED" and was_m:
                        write(encode("DELETED", ev.obj))
                    elif ev.type == "MODIFIED":
                        if now_m and was_m:
                            write(encode("MODIFIED", ev.obj))
                        elif now_m:
                            write(encode("ADDED", ev.obj))
                        elif was_m:
                            write(encode("DELETED", ev.obj))
                    if sh.watch_delay:
                        time.sleep(sh.watch_delay)
                last = cur
                w.rv = last
                if store.by_key.get(rt.key) is not rt:
                    break   # the CRD was deleted or changed: kube-apiserver ends these watches
                if bookmarks and time.monotonic() >= next_bm:
                    write(encode("BOOKMARK", {"resourceVersion": str(cur)}))
                    next_bm = time.monotonic() + sh.bookmark_interval
            self.end_chunks()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with sh.lock:
                sh.watches.pop(wid, None)

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


# ---------------------------------------------------------------------------
# Listener: accept loop that can pause (refuse or hang) and resume


class Listener:
    def __init__(self, shared, host, port, ssl_ctx):
        self.shared, self.host, self.port, self.ssl_ctx = shared, host, port, ssl_ctx
        self.sock = None
        self.thread = None
        self.open()

    def open(self):
        s = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(128)
        self.port = s.getsockname()[1]
        self.sock = s
        self.thread = threading.Thread(target=self.loop, args=(s,), daemon=True)
        self.thread.start()

    def close(self):
        s, self.sock = self.sock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def loop(self, s):
        while self.sock is s:
            try:
                conn, addr = s.accept()
            except OSError:
                return
            if self.shared.paused == "hang":
                # accepted but never answered; closed on resume
                threading.Thread(target=self.hold, args=(conn,), daemon=True).start()
                continue
            threading.Thread(target=self.serve, args=(conn, addr), daemon=True).start()

    def hold(self, conn):
        self.shared.resumed.wait()
        conn.close()

    def serve(self, conn, addr):
        sh = self.shared
        try:
            # one response is several writes: without this, Nagle and delayed
            # ACKs add 40 ms to each request
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_ctx is not None:
                conn.settimeout(10)
                conn = self.ssl_ctx.wrap_socket(conn, server_side=True)
                conn.settimeout(None)
        except (ssl.SSLError, OSError):
            conn.close()
            return
        with sh.lock:
            sh.conns.add(conn)
        try:
            h = Handler.__new__(Handler)
            h.shared = sh
            BaseHTTPRequestHandler.__init__(h, conn, addr, self)
        except (OSError, ssl.SSLError):
            pass
        except Exception:
            traceback.print_exc()
        finally:
            with sh.lock:
                sh.conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


def reset_connections(shared):
    with shared.lock:
        conns = list(shared.conns)
    for c in conns:
        try:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Control channel (tests only; plain HTTP on loopback)


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, obj, code=200):
        body = json.dumps(obj, indent=1).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        sh = self.server.shared
        store = sh.store
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        p = url.path.rstrip("/")
        if p == "/drop-watches":
            mode = q.get("mode", "reset")
            with sh.lock:
                ws = [w for w in sh.watches.values() if w.rt.plural == q.get("resource", w.rt.plural)]
            for w in ws:
                w.stop = mode if mode in ("end", "expire") else "reset"
            with store.lock:
                store.cond.notify_all()
            if mode == "reset":
                for w in ws:
                    try:
                        w.handler.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            self.reply({"dropped": len(ws)})
        elif p == "/pause":
            mode = q.get("mode", "refuse")
            sh.resumed.clear()
            sh.paused = mode
            if mode == "refuse":
                sh.listener.close()
            with store.lock:
                store.cond.notify_all()
            if mode == "refuse":
                reset_connections(sh)
            self.reply({"paused": mode})
        elif p == "/resume":
            was = sh.paused
            sh.paused = None
            sh.resumed.set()
            if was == "refuse":
                sh.listener.open()
            self.reply({"resumed": True})
        elif p == "/compact":
            store.compact()
            if q.get("expire_watches") in ("1", "true"):
                with sh.lock:
                    for w in sh.watches.values():
                        w.stop = "expire"
                with store.lock:
                    store.cond.notify_all()
            self.reply({"compacted": store.compacted})
        elif p == "/expire-watches":
            with sh.lock:
                for w in sh.watches.values():
                    w.stop = "expire"
                count = len(sh.watches)
            with store.lock:
                store.cond.notify_all()
            self.reply({"expired": count})
        elif p == "/token":
            if "add" in q:
                sh.tokens.add(q["add"])
            else:
                sh.tokens = {q["value"]} if q.get("value") else set()
            self.reply({"tokens": len(sh.tokens)})
        elif p == "/forbid":
            rule = {k: q[k] for k in ("verb", "group", "resource", "namespace") if k in q}
            sh.forbidden.append(rule)
            self.reply({"forbidden": sh.forbidden})
        elif p == "/allow":
            sh.forbidden = []
            self.reply({"forbidden": []})
        elif p == "/requests":
            with sh.lock:
                counts = dict(sh.counts)
            if "reset" in q:
                with sh.lock:
                    sh.counts.clear()
                    sh.log.clear()
            self.reply(counts)
        elif p == "/log":
            with sh.lock:
                log = list(sh.log)
            self.reply(log[-int(q.get("last", 1000)):])
        elif p == "/watches":
            with sh.lock:
                ws = [{"id": w.id, "resource": w.rt.resource_ref(), "namespace": w.ns, "resourceVersion": w.rv}
                      for w in sh.watches.values()]
            self.reply(ws)
        elif p == "/state":
            with store.lock:
                self.reply({"resourceVersion": store.rv, "compacted": store.compacted,
                            "history": len(store.history), "paused": sh.paused,
                            "objects": {"/".join(k).lstrip("/"): len(v) for k, v in store.objects.items()}})
        elif p == "/settings":
            if "bookmark_interval" in q:
                sh.bookmark_interval = float(q["bookmark_interval"])
            if "too_old_watch" in q:
                sh.too_old_as_status = q["too_old_watch"] == "status"
            if "history" in q:
                store.history_size = int(q["history"])
            if "watch_delay" in q:
                sh.watch_delay = float(q["watch_delay"])
            if "keep_client_uid" in q:
                sh.api.keep_client_uid = q["keep_client_uid"] in ("1", "true")
            if "aggregated_discovery" in q:
                sh.aggregated_discovery = q["aggregated_discovery"] in ("1", "true")
            self.reply({"bookmark_interval": sh.bookmark_interval, "history": store.history_size,
                        "too_old_watch": "status" if sh.too_old_as_status else "event",
                        "watch_delay": sh.watch_delay, "aggregated_discovery": sh.aggregated_discovery,
                        "keep_client_uid": sh.api.keep_client_uid})
        elif p == "/seed":
            # bulk creation for benchmarks: a JSON list (or List) of objects
            try:
                objs = json.loads(body)
                if isinstance(objs, dict):
                    objs = objs.get("items", [])
                made = 0
                for o in objs:
                    with store.lock:
                        rt = store.type_for_kind(o.get("apiVersion", ""), o.get("kind", ""))
                    if rt is None:
                        raise ApiError(400, "BadRequest", f'no kind {o.get("kind")} in {o.get("apiVersion")}')
                    if not rt.builtin:
                        o["_requestVersion"] = o["apiVersion"].rpartition("/")[2]
                    sh.api.create(rt, (o.get("metadata") or {}).get("namespace"), o, {})
                    made += 1
                self.reply({"created": made})
            except ApiError as e:
                self.reply(e.status(), e.code)
        elif p == "/healthz":
            self.reply({"ok": True})
        else:
            self.reply({"error": "unknown control path", "paths": [
                "/drop-watches?mode=reset|end|expire[&resource=PLURAL]", "/pause?mode=refuse|hang", "/resume",
                "/compact[?expire_watches=1]", "/expire-watches", "/token?value=T|add=T",
                "/forbid?verb=&group=&resource=&namespace=", "/allow", "/requests[?reset]", "/log[?last=N]",
                "/watches", "/state", "/settings?bookmark_interval=&too_old_watch=event|status&history=",
                "/seed (POST a JSON list)"]}, 404)

    do_POST = do_GET


# ---------------------------------------------------------------------------
# Certificates and kubeconfigs


def run_openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d, host):
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    if not os.path.exists(ca_crt):
        run_openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                    "-days", "30", "-subj", "/CN=egressd-test-ca",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subj, ext in (
            ("server", "/CN=kube-apiserver",
             f"subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:{host},IP:127.0.0.1\n"
             "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n"),
            ("client", "/O=system:masters/CN=egressd-test-admin",
             "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")):
        key, csr, crt = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "crt"))
        extfile = os.path.join(d, f"{name}.ext")
        with open(extfile, "w") as f:
            f.write(ext)
        run_openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr, "-subj", subj)
        run_openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                    "-out", crt, "-days", "30", "-extfile", extfile)
        os.remove(csr)
        os.remove(extfile)


def write_kubeconfig(path, server, ca, user):
    cluster = {"server": server}
    if ca:
        cluster["certificate-authority"] = ca
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "egressd-test",
           "clusters": [{"name": "egressd-test", "cluster": cluster}],
           "users": [{"name": "egressd-test", "user": user}],
           "contexts": [{"name": "egressd-test", "context": {"cluster": "egressd-test", "user": "egressd-test",
                                                             "namespace": "default"}}]}
    # JSON is YAML: kubectl and any YAML parser read it
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="state directory (certificates, kubeconfigs, server.json)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--token", action="append", help="accepted bearer token (repeatable); default: a random one")
    ap.add_argument("--no-tls", action="store_true", help="plain HTTP (kubeconfigs say http://)")
    ap.add_argument("--anonymous", action="store_true", help="accept requests without credentials")
    ap.add_argument("--history", type=int, default=1000, help="watch events kept (older rv: 410 Gone)")
    ap.add_argument("--bookmark-interval", type=float, default=1.0, help="seconds between watch bookmarks")
    ap.add_argument("--watch-timeout", type=float, default=1800, help="watch length without timeoutSeconds")
    ap.add_argument("--too-old-watch", choices=("event", "status"), default="event",
                    help="a watch from a compacted resourceVersion: ERROR event (as kube-apiserver) or HTTP 410")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="exit when the process that started this one exits (for tests that spawn it)")
    ap.add_argument("--max-lifetime", type=float, default=0, help="exit after this many seconds (0: never)")
    ap.add_argument("--keep-client-uid", action="store_true",
                    help="a create keeps the metadata.uid it names (test-only: kube-apiserver assigns its own)")
    ap.add_argument("--no-aggregated-discovery", action="store_true",
                    help="answer /api and /apis only with the legacy documents")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    for stale in ("server.json", "server.json.tmp"):
        if os.path.exists(os.path.join(args.dir, stale)):
            os.remove(os.path.join(args.dir, stale))
    if not args.token:
        args.token = ["".join(random.choice(string.ascii_letters + string.digits) for _ in range(32))]
    ssl_ctx = None
    scheme = "http"
    if not args.no_tls:
        make_pki(args.dir, args.host)
        ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_ctx.load_cert_chain(os.path.join(args.dir, "server.crt"), os.path.join(args.dir, "server.key"))
        ssl_ctx.load_verify_locations(os.path.join(args.dir, "ca.crt"))
        ssl_ctx.verify_mode = ssl.CERT_OPTIONAL
        ssl_ctx.set_alpn_protocols(["http/1.1"])
        scheme = "https"

    shared = Shared(args)
    shared.listener = Listener(shared, args.host, args.port, ssl_ctx)
    from http.server import ThreadingHTTPServer
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), ControlHandler)
    control.daemon_threads = True
    control.shared = shared
    threading.Thread(target=control.serve_forever, daemon=True).start()

    host = f"[{args.host}]" if ":" in args.host else args.host
    server = f"{scheme}://{host}:{shared.listener.port}"
    ca = os.path.join(args.dir, "ca.crt") if ssl_ctx else None
    token_file = os.path.join(args.dir, "token")
    with open(token_file, "w") as f:
        f.write(args.token[0])
    kc = os.path.join(args.dir, "kubeconfig")
    write_kubeconfig(kc, server, ca, {"token": args.token[0]})
    kc_cert = None
    if ssl_ctx:
        kc_cert = os.path.join(args.dir, "kubeconfig-cert")
        write_kubeconfig(kc_cert, server, ca, {"client-certificate": os.path.join(args.dir, "client.crt"),
                                               "client-key": os.path.join(args.dir, "client.key")})
    info = {"server": server, "port": shared.listener.port, "control": f"http://127.0.0.1:{control.server_port}",
            "control_port": control.server_port, "kubeconfig": kc, "kubeconfig_cert": kc_cert, "ca": ca,
            "token": args.token[0], "token_file": token_file, "pid": os.getpid()}
    tmp = os.path.join(args.dir, "server.json.tmp")
    with open(tmp, "w") as f:
        json.dump(info, f, indent=1)
    os.replace(tmp, os.path.join(args.dir, "server.json"))
    print(json.dumps(info), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent, deadline = os.getppid(), time.monotonic() + args.max_lifetime
    while not stop.wait(0.5):
        if args.exit_with_parent and os.getppid() != parent:
            break
        if args.max_lifetime and time.monotonic() >= deadline:
            break
    shared.listener.close()
    control.shutdown()


if __name__ == "__main__":
    main()
