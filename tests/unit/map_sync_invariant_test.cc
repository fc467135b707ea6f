// Make before break, checked op by op: for generated (old, new) policies
// (scope moves, prefix splits and merges, ServiceEntry renames, bulk adds
// and removes, host changes, Sidecars swapped, in random combinations, fixed
// seed), map sync is replayed on a recording fake and, after EVERY write,
// each probed (workload, destination) whose verdict is the same in the old
// and the new state must still get it. The verdict is a model of the
// kernel's lookup (bpf/lib/policy.h), itself checked against explain on the
// old and new states. The previous write order runs on the same cases, side
// by side, to show what the test catches.
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>

#include "compiler/address.h"
#include "compiler/compiler.h"
#include "compiler_test_util.h"
#include "fake_map_backend.h"
#include "sync/map_sync.h"

namespace egressd::testing {
namespace {

using compiler::testing::meta;
using compiler::testing::port;
using compiler::testing::serviceEntry;
using LearnedMap = AbiMap<egressd_dns_learned_key, egressd_dns_learned_value>;

// ---- The write order before make-before-break, kept to measure it. ----
SyncReport previousOrderSync(MapBackend& maps, const DesiredState& desired) {
  SyncReport report;
  auto live_result = maps.readLive();
  if (!live_result.ok()) return report;
  DesiredState& live = live_result.value();
  std::erase_if(live.scopes, [](const auto& kv) { return abiEqual(kv.second, egressd_scope_value{}); });
  auto upsert = [](const auto& want, const auto& have, auto put) {
    for (const auto& [key, value] : want) {
      auto it = have.find(key);
      if (it == have.end() || !abiEqual(it->second, value)) (void)put(key, value);
    }
  };
  auto removeStale = [](const auto& want, const auto& have, auto erase) {
    for (const auto& [key, value] : have) {
      if (!want.count(key)) (void)erase(key);
    }
  };
  upsert(desired.gateways, live.gateways, [&](uint32_t id, const auto& v) { return maps.putGateway(id, v); });
  upsert(desired.ports, live.ports, [&](const auto& k, const auto& v) { return maps.putPort(k, v); });
  upsert(desired.prefixes, live.prefixes, [&](const auto& k, const auto& v) { return maps.putPrefix(k, v); });
  upsert(desired.dns_names, live.dns_names, [&](const auto& k, const auto& v) { return maps.putDnsName(k, v); });
  upsert(desired.dns_servers, live.dns_servers, [&](const auto& k, const auto& v) { return maps.putDnsServer(k, v); });
  upsert(desired.scopes, live.scopes, [&](uint32_t id, const auto& v) { return maps.putScope(id, v); });
  upsert(desired.workloads, live.workloads, [&](const auto& k, const auto& v) { return maps.putWorkload(k, v); });
  removeStale(desired.workloads, live.workloads, [&](const auto& k) { return maps.deleteWorkload(k); });
  removeStale(desired.scopes, live.scopes, [&](uint32_t id) { return maps.putScope(id, egressd_scope_value{}); });
  removeStale(desired.dns_servers, live.dns_servers, [&](const auto& k) { return maps.deleteDnsServer(k); });
  removeStale(desired.dns_names, live.dns_names, [&](const auto& k) { return maps.deleteDnsName(k); });
  removeStale(desired.prefixes, live.prefixes, [&](const auto& k) { return maps.deletePrefix(k); });
  removeStale(desired.ports, live.ports, [&](const auto& k) { return maps.deletePort(k); });
  removeStale(desired.gateways, live.gateways,
              [&](uint32_t id) { return maps.putGateway(id, egressd_gateway_value{}); });
  return report;
}

// ---- The kernel's decision (bpf/lib/policy.h, egress_sock.bpf.c audit). ----
struct Verdict {
  egressd_verdict verdict = EGRESSD_VERDICT_ALLOWED;
  uint32_t gateway_port = 0;  // REDIRECTED: where to (address below)
  std::array<uint8_t, 16> gateway_addr{};
  bool operator==(const Verdict& o) const {
    return verdict == o.verdict && gateway_port == o.gateway_port && gateway_addr == o.gateway_addr;
  }
};

const char* verdictName(const Verdict& v) {
  switch (v.verdict) {
    case EGRESSD_VERDICT_ALLOWED: return "allowed";
    case EGRESSD_VERDICT_DENIED: return "denied";
    case EGRESSD_VERDICT_REDIRECTED: return "redirected";
    default: return "audit";
  }
}

bool bit(const __u64* bitmap, uint32_t id) { return (bitmap[(id / 64) % EGRESSD_SCOPE_WORDS] >> (id % 64)) & 1; }

const egressd_port_value* portEntry(const DesiredState& s, uint32_t class_id, uint16_t port, uint8_t proto) {
  egressd_port_key k{};
  k.class_id = class_id;
  k.port = port;
  k.protocol = proto;
  auto it = s.ports.find(k);
  if (it != s.ports.end()) return &it->second;
  k.port = 0;
  it = s.ports.find(k);
  return it == s.ports.end() ? nullptr : &it->second;
}

Verdict redirect(const DesiredState& s, const egressd_port_value& pv) {
  Verdict v;
  auto gw = s.gateways.find(pv.gateway_id);
  if (!pv.gateway_id || gw == s.gateways.end() || !(gw->second.flags & EGRESSD_GATEWAY_F_ACTIVE)) {
    v.verdict = EGRESSD_VERDICT_DENIED;
    return v;
  }
  v.verdict = EGRESSD_VERDICT_REDIRECTED;
  v.gateway_port = gw->second.port;
  std::copy(std::begin(gw->second.addr), std::end(gw->second.addr), v.gateway_addr.begin());
  return v;
}

struct Probe {
  uint64_t cgroup;
  std::string workload;
  std::string ip;
  egressd_prefix_key addr;
  uint16_t port;
  uint8_t proto;
};

Verdict decideRaw(const DesiredState& s, const LearnedMap& learned, const std::set<uint32_t, std::greater<>>& lengths,
                  const Probe& p, uint32_t& flags) {
  Verdict v;
  auto w = s.workloads.find(egressd_workload_key{p.cgroup});
  if (w == s.workloads.end()) return v;  // untouched
  const uint32_t scope_id = w->second.scope_id;
  flags = w->second.flags;
  const bool gateway_workload = flags & EGRESSD_WORKLOAD_F_GATEWAY;
  const egressd_port_value* pv = nullptr;
  for (uint32_t len : lengths) {
    auto it = s.prefixes.find(compiler::maskPrefix(p.addr, len));
    if (it == s.prefixes.end()) continue;
    pv = portEntry(s, it->second.class_id, p.port, p.proto);
    break;
  }
  if (pv && (pv->flags & EGRESSD_PORT_F_ALWAYS)) return v;
  auto scope = s.scopes.find(scope_id);
  if (scope == s.scopes.end() || !(scope->second.flags & EGRESSD_SCOPE_F_ACTIVE)) {
    v.verdict = EGRESSD_VERDICT_DENIED;
    return v;
  }
  if (pv && !gateway_workload && bit(pv->redirect_scopes, scope_id)) return redirect(s, *pv);
  if (pv && bit(pv->allow_scopes, scope_id)) return v;
  egressd_dns_learned_key lk{};
  lk.scope_id = scope_id;
  std::copy(std::begin(p.addr.addr), std::end(p.addr.addr), lk.addr);
  if (auto lv = learned.find(lk); lv != learned.end() && lv->second.expires_ns > 0) {
    const egressd_port_value* allowed = nullptr;
    for (uint32_t id : lv->second.class_ids) {
      if (!id) continue;
      const auto* e = portEntry(s, id, p.port, p.proto);
      if (!e) continue;
      if (!gateway_workload && bit(e->redirect_scopes, scope_id)) {
        allowed = e;
        break;
      }
      if (!allowed && bit(e->allow_scopes, scope_id)) allowed = e;
    }
    if (allowed) return !gateway_workload && bit(allowed->redirect_scopes, scope_id) ? redirect(s, *allowed) : v;
  }
  if (gateway_workload) return v;
  if (scope->second.outbound_mode != EGRESSD_MODE_ALLOW_ANY) v.verdict = EGRESSD_VERDICT_DENIED;
  return v;
}

Verdict decide(const DesiredState& s, const LearnedMap& learned, const std::set<uint32_t, std::greater<>>& lengths,
               const Probe& p) {
  uint32_t flags = 0;
  Verdict v = decideRaw(s, learned, lengths, p, flags);
  if (v.verdict == EGRESSD_VERDICT_DENIED && (flags & EGRESSD_WORKLOAD_F_AUDIT)) v.verdict = EGRESSD_VERDICT_AUDIT;
  return v;
}

// ---- Generated policies. ----
struct Shape {
  bool web_sidecar = false;   // a Sidecar selects web (else web is in its namespace's scope)
  int web_sidecar_hosts = 0;  // which egress hosts it imports
  bool api_sidecar = false;
  bool swapped = false;  // the two Sidecars select each other's workload
  bool default_sidecar = false;
  int default_hosts = 0;
  bool split = false;    // partner: one /24 or two /25s
  bool renamed = false;  // partner under another name
  bool inner = false;    // a /32 inside partner's /24
  int bulk = 0;          // filler ServiceEntries
  int host_variant = 0;  // the DNS-learned entry's hosts
  bool wide = true;      // dev's /24 exported to every namespace
  bool registry_only = true;
  bool job_audit = false;
  bool operator==(const Shape&) const = default;
};

const std::vector<std::vector<std::string>> kWebHosts = {
    {"./*"}, {"./partner.example.com", "./*.cdn.example.com"}, {"./inner.example.com", "*/*"}, {"dev/*"}};
const std::vector<std::vector<std::string>> kDefaultHosts = {{"./*"}, {"*/*"}, {"./partner.example.com"}};
const std::vector<std::vector<std::string>> kCdnHosts = {
    {"api.cdn.example.com"}, {"*.cdn.example.com"}, {"api.cdn.example.com", "*.cdn.example.com"}, {"img.cdn.example.com"}};

policy::Sidecar sidecar(const std::string& name, std::optional<compiler::testing::Labels> selector,
                        std::vector<std::string> hosts) {
  policy::Sidecar sc = compiler::testing::sidecar("prod", name, std::move(selector));
  sc.egress.push_back(compiler::testing::egress(std::move(hosts)));
  return sc;
}

policy::PolicySnapshot build(const Shape& s) {
  policy::PolicySnapshot p;
  p.mesh.outbound_mode = s.registry_only ? policy::OutboundMode::kRegistryOnly : policy::OutboundMode::kAllowAny;
  p.workloads.push_back(compiler::testing::workload("prod", "web", {{"app", "web"}}));
  p.workloads.push_back(compiler::testing::workload("prod", "api", {{"app", "api"}}));
  auto job = compiler::testing::workload("prod", "job", {{"app", "job"}});
  if (s.job_audit) job.meta.labels[policy::kAuditLabel] = "true";
  p.workloads.push_back(job);
  p.workloads.push_back(compiler::testing::workload("dev", "tool", {{"app", "tool"}}));
  const std::string web_app = s.swapped ? "api" : "web", api_app = s.swapped ? "web" : "api";
  if (s.web_sidecar) p.sidecars.push_back(sidecar("sc-a", compiler::testing::Labels{{"app", web_app}}, kWebHosts[s.web_sidecar_hosts]));
  if (s.api_sidecar) p.sidecars.push_back(sidecar("sc-b", compiler::testing::Labels{{"app", api_app}}, {"./partner.example.com"}));
  if (s.default_sidecar) p.sidecars.push_back(sidecar("default", std::nullopt, kDefaultHosts[s.default_hosts]));

  using policy::Resolution;
  std::vector<std::string> partner = s.split ? std::vector<std::string>{"192.0.2.0/25", "192.0.2.128/25"}
                                             : std::vector<std::string>{"192.0.2.0/24"};
  p.service_entries.push_back(serviceEntry("prod", s.renamed ? "partner-v2" : "partner", {"partner.example.com"},
                                           partner, {port(443)}, {}, Resolution::kNone));
  if (s.inner)
    p.service_entries.push_back(serviceEntry("prod", "inner", {"inner.example.com"}, {"192.0.2.10/32"},
                                             {port(80), port(443)}, {}, Resolution::kNone));
  p.service_entries.push_back(
      serviceEntry("prod", "cdn", kCdnHosts[s.host_variant], {}, {port(443)}, {}, Resolution::kDns));
  if (s.wide)
    p.service_entries.push_back(serviceEntry("dev", "wide", {"wide.example.org"}, {"198.51.100.0/24"}, {port(80)},
                                             {"*"}, Resolution::kNone));
  p.service_entries.push_back(serviceEntry("dev", "dev-only", {"dev.example.org"}, {"198.51.100.128/25"},
                                           {port(80), port(53, policy::PortProtocol::kUdp)}, {"."},
                                           Resolution::kNone));
  for (int i = 0; i < s.bulk; ++i) {
    const std::string ip = "203.0.113." + std::to_string(1 + i % 200);
    p.service_entries.push_back(serviceEntry("prod", "filler-" + std::to_string(i),
                                             {"filler-" + std::to_string(i) + ".example.net"}, {ip},
                                             {port(i % 2 ? 80 : 443)}, {}, Resolution::kNone));
  }
  return p;
}

Shape randomShape(std::mt19937& rng) {
  auto coin = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  Shape s;
  s.web_sidecar = coin(60);
  s.web_sidecar_hosts = static_cast<int>(rng() % kWebHosts.size());
  s.api_sidecar = coin(40);
  s.swapped = coin(20);
  s.default_sidecar = coin(30);
  s.default_hosts = static_cast<int>(rng() % kDefaultHosts.size());
  s.split = coin(50);
  s.renamed = coin(30);
  s.inner = coin(50);
  s.bulk = coin(50) ? 40 : 0;
  s.host_variant = static_cast<int>(rng() % kCdnHosts.size());
  s.wide = coin(80);
  s.registry_only = coin(85);
  s.job_audit = coin(10);
  return s;
}

// Each change flips with some chance; at least one changes.
Shape mutate(Shape s, std::mt19937& rng) {
  const Shape before = s;
  auto coin = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  while (true) {
    if (coin(35)) s.web_sidecar = !s.web_sidecar;
    if (coin(20)) s.web_sidecar_hosts = static_cast<int>(rng() % kWebHosts.size());
    if (coin(20)) s.api_sidecar = !s.api_sidecar;
    if (coin(20)) s.swapped = !s.swapped;
    if (coin(15)) s.default_sidecar = !s.default_sidecar;
    if (coin(10)) s.default_hosts = static_cast<int>(rng() % kDefaultHosts.size());
    if (coin(35)) s.split = !s.split;
    if (coin(25)) s.renamed = !s.renamed;
    if (coin(25)) s.inner = !s.inner;
    if (coin(35)) s.bulk = s.bulk ? 0 : 40;
    if (coin(20)) s.host_variant = static_cast<int>(rng() % kCdnHosts.size());
    if (coin(10)) s.wide = !s.wide;
    if (coin(8)) s.registry_only = !s.registry_only;
    if (coin(5)) s.job_audit = !s.job_audit;
    if (!(s == before)) return s;
  }
}

const char* kAddresses[] = {"192.0.2.1",     "192.0.2.10",    "192.0.2.100",   "192.0.2.127", "192.0.2.128",
                            "192.0.2.200",   "192.0.2.255",   "198.51.100.5",  "198.51.100.130",
                            "203.0.113.1",   "203.0.113.2",   "203.0.113.40",  "203.0.113.250",
                            "203.0.113.251", "10.1.2.3",      "2001:db8::1"};

std::vector<Probe> probesFor(const std::map<std::string, uint64_t>& cgroups) {
  std::vector<Probe> out;
  for (const auto& [workload, cgroup] : cgroups) {
    for (const char* ip : kAddresses) {
      for (auto [port, proto] : std::vector<std::pair<uint16_t, uint8_t>>{{443, IPPROTO_TCP}, {80, IPPROTO_TCP},
                                                                          {53, IPPROTO_UDP}}) {
        out.push_back({cgroup, workload, ip, *compiler::parseAddress(ip), port, proto});
      }
    }
  }
  return out;
}

// What the workloads learned before the change: per scope, the DNS hosts it
// may learn, answered with two IPs (one outside every prefix, one inside).
// Only the hosts of the DNS-learned entry and partner's: at most 4 per IP, as
// the kernel keeps (more would evict each other, in the order they came).
LearnedMap learnedFor(const compiler::CompileOutput& compiled) {
  const DesiredState& d = compiled.desired;
  LearnedMap out;
  for (const auto& [key, name] : d.dns_names) {
    auto host = compiled.host_classes.find(name.exact_class ? name.exact_class : name.wildcard_class);
    if (host == compiled.host_classes.end() || (host->second.find("cdn.") == std::string::npos &&
                                                host->second != "partner.example.com"))
      continue;
    for (const auto& [scope_id, value] : d.scopes) {
      for (auto [cls, scopes] : {std::pair{name.exact_class, name.exact_scopes},
                                 std::pair{name.wildcard_class, name.wildcard_scopes}}) {
        if (!cls || !bit(scopes, scope_id)) continue;
        for (const char* ip : {"203.0.113.250", "192.0.2.200"}) {
          egressd_dns_learned_key lk{};
          lk.scope_id = scope_id;
          const auto addr = *compiler::parseAddress(ip);
          std::copy(std::begin(addr.addr), std::end(addr.addr), lk.addr);
          auto& lv = out[lk];
          lv.expires_ns = ~0ull >> 1;
          for (auto& slot : lv.class_ids) {
            if (!slot || slot == cls) {
              slot = cls;
              break;
            }
          }
        }
      }
    }
  }
  return out;
}

// What the new state should have learned: the old entries, plus, for every
// workload that changed scope, its old scope's entries for the hosts the new
// scope may learn (and only those).
LearnedMap expectedLearned(const DesiredState& before, const LearnedMap& learned, const DesiredState& after) {
  // A slot that holds another scope now starts with nothing learned.
  LearnedMap out;
  for (const auto& [key, value] : learned) {
    auto b = before.scopes.find(key.scope_id), a = after.scopes.find(key.scope_id);
    if (b != before.scopes.end() && a != after.scopes.end() && b->second.name_hash == a->second.name_hash)
      out[key] = value;
  }
  std::set<std::pair<uint32_t, uint32_t>> moves;
  for (const auto& [key, value] : after.workloads) {
    auto it = before.workloads.find(key);
    if (it != before.workloads.end() && it->second.scope_id != value.scope_id)
      moves.insert({it->second.scope_id, value.scope_id});
  }
  for (const auto& [from, to] : moves) {
    std::set<uint32_t> learnable;
    for (const auto& [key, name] : after.dns_names) {
      if (name.exact_class && bit(name.exact_scopes, to)) learnable.insert(name.exact_class);
      if (name.wildcard_class && bit(name.wildcard_scopes, to)) learnable.insert(name.wildcard_class);
    }
    for (const auto& [key, value] : learned) {
      if (key.scope_id != from) continue;
      egressd_dns_learned_key to_key = key;
      to_key.scope_id = to;
      for (uint32_t id : value.class_ids) {
        if (!id || !learnable.count(id)) continue;
        auto& lv = out[to_key];
        lv.expires_ns = std::max(lv.expires_ns, value.expires_ns);
        for (auto& slot : lv.class_ids) {
          if (!slot || slot == id) {
            slot = id;
            break;
          }
        }
      }
    }
  }
  return out;
}

std::set<uint32_t> classSet(const egressd_dns_learned_value& v) {
  std::set<uint32_t> out(std::begin(v.class_ids), std::end(v.class_ids));
  out.erase(0);
  return out;
}

struct CaseResult {
  size_t flips = 0;          // wrong verdicts in intermediate states
  size_t wrong_final = 0;    // final verdicts other than the new state's
  size_t lost_learned = 0;   // learned (scope, IP, host) that should have been carried and was not
  size_t extra_learned = 0;  // carried for a host the new scope may not learn
  size_t ops = 0;
  std::string first;  // the first failure, described
};

using SyncFn = SyncReport (*)(MapBackend&, const DesiredState&);

CaseResult runCase(SyncFn sync, const compiler::CompileOutput& old_out, const compiler::CompileOutput& new_out,
                   const std::vector<Probe>& probes) {
  CaseResult r;
  FakeMapBackend maps;
  EXPECT_TRUE(syncMaps(maps, old_out.desired).errors.empty());
  maps.learned = learnedFor(old_out);
  const LearnedMap learned_before = maps.learned;
  const LearnedMap learned_after = expectedLearned(old_out.desired, learned_before, new_out.desired);
  std::set<uint32_t, std::greater<>> lengths;
  for (const auto* d : {&old_out.desired, &new_out.desired})
    for (const auto& [key, value] : d->prefixes) lengths.insert(key.prefixlen);

  std::vector<std::pair<const Probe*, Verdict>> stable;
  std::vector<Verdict> want_final;
  for (const auto& p : probes) {
    const Verdict before = decide(old_out.desired, learned_before, lengths, p);
    const Verdict after = decide(new_out.desired, learned_after, lengths, p);
    want_final.push_back(after);
    if (before == after) stable.emplace_back(&p, before);
  }
  maps.ops.clear();
  maps.after_write = [&](const FakeMapBackend::Op& op) {
    ++r.ops;
    for (const auto& [p, want] : stable) {
      const Verdict got = decide(maps.state, maps.learned, lengths, *p);
      if (got == want) continue;
      if (r.flips++ == 0)
        r.first = p->workload + " -> " + p->ip + ":" + std::to_string(p->port) + " " + verdictName(got) +
                  " instead of " + verdictName(want) + " after op " + std::to_string(r.ops) + " (kind " +
                  std::to_string(static_cast<int>(op.kind)) + ")";
    }
  };
  const SyncReport report = sync(maps, new_out.desired);
  maps.after_write = nullptr;
  EXPECT_TRUE(report.errors.empty());
  for (size_t i = 0; i < probes.size(); ++i) {
    const Verdict got = decide(maps.state, maps.learned, lengths, probes[i]);
    if (!(got == want_final[i]) && r.wrong_final++ == 0 && r.first.empty())
      r.first = probes[i].workload + " -> " + probes[i].ip + ":" + std::to_string(probes[i].port) + " final " +
                verdictName(got) + " instead of " + verdictName(want_final[i]);
  }
  for (const auto& [key, value] : learned_after) {
    if (!new_out.desired.scopes.count(key.scope_id)) continue;  // its scope is gone: dropped or not, unused
    auto it = maps.learned.find(key);
    const auto have = it == maps.learned.end() ? std::set<uint32_t>{} : classSet(it->second);
    for (uint32_t id : classSet(value)) r.lost_learned += have.count(id) ? 0 : 1;
  }
  for (const auto& [key, value] : maps.learned) {
    auto it = learned_after.find(key);
    const auto want = it == learned_after.end() ? std::set<uint32_t>{} : classSet(it->second);
    if (!new_out.desired.scopes.count(key.scope_id)) continue;  // dropped with its scope or not: no one uses it
    for (uint32_t id : classSet(value)) r.extra_learned += want.count(id) ? 0 : 1;
  }
  return r;
}

// The model agrees with explain (the compiler's twin of the kernel) on the
// old and the new state, learned entries included.
void expectModelMatchesExplain(const compiler::CompileOutput& out, const LearnedMap& learned,
                               const std::vector<Probe>& probes) {
  std::set<uint32_t, std::greater<>> lengths;
  for (const auto& [key, value] : out.desired.prefixes) lengths.insert(key.prefixlen);
  for (const auto& p : probes) {
    std::optional<compiler::LearnedEntry> entry;
    if (auto scope = compiler::workloadScopeId(out, p.workload)) {
      egressd_dns_learned_key lk{};
      lk.scope_id = *scope;
      std::copy(std::begin(p.addr.addr), std::end(p.addr.addr), lk.addr);
      if (auto it = learned.find(lk); it != learned.end()) {
        entry = compiler::LearnedEntry{};
        std::copy(std::begin(it->second.class_ids), std::end(it->second.class_ids), entry->class_ids.begin());
        entry->expires_ns = it->second.expires_ns;
        entry->now_ns = 1;
      }
    }
    auto ex = compiler::explainConnection(out, p.workload, p.ip, p.port, p.proto, entry);
    ASSERT_TRUE(ex.ok()) << ex.error();
    ASSERT_EQ(decide(out.desired, learned, lengths, p).verdict, ex->verdict)
        << p.workload << " -> " << p.ip << ":" << p.port << ": " << ex->detail;
  }
}

// The old policy compiled afresh, the new one as the agent compiles it over
// the old one's maps (ids kept).
std::pair<compiler::CompileOutput, compiler::CompileOutput> compileChange(
    const policy::PolicySnapshot& old_policy, const policy::PolicySnapshot& new_policy,
    const std::map<std::string, uint64_t>& cgroups, const compiler::CompileOptions& options) {
  auto old_out = compiler::compilePolicy(old_policy, cgroups, options, {});
  auto new_out = compiler::compilePolicy(new_policy, cgroups, options, compiler::scopeIdsFromLive(old_out.desired),
                                         compiler::gatewayIdsFromLive(old_out.desired),
                                         compiler::classIdsFromLive(old_out.desired));
  return {std::move(old_out), std::move(new_out)};
}

TEST(MapSyncInvariant, NoVerdictFlipsInAnyIntermediateStateOfGeneratedChanges) {
  constexpr int kCases = 300;
  std::mt19937 rng(20261207);
  const auto options = compiler::testing::options({"10.0.0.0/8"}, {{"10.0.0.10", 53}});
  struct Totals {
    size_t failing_cases = 0, flips = 0, wrong_final = 0, lost_learned = 0, extra_learned = 0, ops = 0;
  } now, before;
  size_t moves = 0;
  std::string first_failure;
  for (int i = 0; i < kCases; ++i) {
    const Shape from = randomShape(rng);
    const Shape to = mutate(from, rng);
    const auto old_policy = build(from), new_policy = build(to);
    const auto cgroups = compiler::testing::cgroupsFor(old_policy);
    const auto [old_out, new_out] = compileChange(old_policy, new_policy, cgroups, options);
    ASSERT_TRUE(old_out.errors.empty() && new_out.errors.empty());
    const auto probes = probesFor(cgroups);
    if (i < 40) {
      const LearnedMap learned = learnedFor(old_out);
      expectModelMatchesExplain(old_out, learned, probes);
      expectModelMatchesExplain(new_out, expectedLearned(old_out.desired, learned, new_out.desired), probes);
    }
    for (const auto& [key, value] : new_out.desired.workloads) {
      auto it = old_out.desired.workloads.find(key);
      moves += it != old_out.desired.workloads.end() && it->second.scope_id != value.scope_id;
    }
    for (auto [fn, totals] : {std::pair<SyncFn, Totals*>{&syncMaps, &now}, {&previousOrderSync, &before}}) {
      const CaseResult r = runCase(fn, old_out, new_out, probes);
      const bool failed = r.flips || r.wrong_final || r.lost_learned || r.extra_learned;
      totals->failing_cases += failed;
      totals->flips += r.flips;
      totals->wrong_final += r.wrong_final;
      totals->lost_learned += r.lost_learned;
      totals->extra_learned += r.extra_learned;
      totals->ops += r.ops;
      if (failed && fn == &syncMaps && now.failing_cases <= 5)
        first_failure += "\ncase " + std::to_string(i) + ": " + r.first + " flips " + std::to_string(r.flips) +
                         " final " + std::to_string(r.wrong_final) + " lost " + std::to_string(r.lost_learned) +
                         " extra " + std::to_string(r.extra_learned);
    }
  }
  std::printf("  %d generated changes, %zu workload scope moves; failing cases: make-before-break %zu, previous "
              "order %zu\n",
              kCases, moves, now.failing_cases, before.failing_cases);
  std::printf("  wrong intermediate verdicts: %zu vs %zu; wrong final verdicts: %zu vs %zu; learned names lost: %zu "
              "vs %zu; carried beyond what the new scope may learn: %zu vs %zu; writes: %zu vs %zu\n",
              now.flips, before.flips, now.wrong_final, before.wrong_final, now.lost_learned, before.lost_learned,
              now.extra_learned, before.extra_learned, now.ops, before.ops);
  EXPECT_EQ(now.failing_cases, 0u) << first_failure;
  // The check can fail: the previous order fails it.
  EXPECT_GT(before.failing_cases, 0u);
  EXPECT_GT(moves, 0u);
}

// The reported case: web's selecting Sidecar removed (web moves to its
// namespace's scope, which still allows partner) together with a bulk
// removal of ServiceEntries; partner stays allowed for web throughout.
TEST(MapSyncInvariant, SidecarRemovedWithABulkRemovalKeepsPartnerAllowed) {
  Shape from;
  from.web_sidecar = true;
  from.bulk = 200;
  Shape to = from;
  to.web_sidecar = false;
  to.bulk = 0;
  const auto options = compiler::testing::options({"10.0.0.0/8"}, {{"10.0.0.10", 53}});
  const auto old_policy = build(from);
  const auto cgroups = compiler::testing::cgroupsFor(old_policy);
  const auto old_out = compiler::compilePolicy(old_policy, cgroups, options, {});
  const auto new_out =
      compiler::compilePolicy(build(to), cgroups, options, compiler::scopeIdsFromLive(old_out.desired), {},
                              compiler::classIdsFromLive(old_out.desired));
  std::vector<Probe> probes;
  for (const auto& p : probesFor(cgroups)) {
    if (p.workload == "prod/web") probes.push_back(p);
  }
  const CaseResult now = runCase(&syncMaps, old_out, new_out, probes);
  const CaseResult before = runCase(&previousOrderSync, old_out, new_out, probes);
  std::printf("  web's wrong verdicts while its Sidecar goes with 200 entries: make-before-break %zu, previous order "
              "%zu (%s)\n",
              now.flips, before.flips, before.first.c_str());
  EXPECT_EQ(now.flips + now.wrong_final + now.lost_learned, 0u) << now.first;
  EXPECT_GT(before.flips, 0u);
}


// FNV-1a over every map's bytes: equal hashes, equal intermediate states.
uint64_t stateHash(const FakeMapBackend& maps) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 1099511628211ull;
  };
  auto all = [&](const auto& map) {
    for (const auto& [key, value] : map) mix(&key, sizeof key), mix(&value, sizeof value);
  };
  all(maps.state.workloads), all(maps.state.scopes), all(maps.state.prefixes), all(maps.state.ports);
  all(maps.state.dns_names), all(maps.state.dns_servers), all(maps.state.gateways), all(maps.learned);
  return h;
}

// Syncs old -> new twice, once planning every entry and once what changed:
// the same writes, in the same order, through the same intermediate states,
// with the same report. Returns whether syncMaps() took the subset path.
bool expectSubsetSyncMatchesFull(const compiler::CompileOutput& old_out, const compiler::CompileOutput& new_out,
                                 const std::string& label) {
  FakeMapBackend whole, subset;
  std::vector<uint64_t> whole_states, subset_states;  // every intermediate state, hashed
  for (auto [maps, states] : {std::pair{&whole, &whole_states}, std::pair{&subset, &subset_states}}) {
    EXPECT_TRUE(syncAllMaps(*maps, old_out.desired).errors.empty()) << label;
    maps->learned = learnedFor(old_out);
    maps->ops.clear();
    maps->after_write = [maps, states](const FakeMapBackend::Op&) { states->push_back(stateHash(*maps)); };
  }
  const SyncReport a = syncAllMaps(whole, new_out.desired);
  const SyncReport b = syncMaps(subset, new_out.desired);
  EXPECT_EQ(whole_states, subset_states) << label;
  EXPECT_EQ(whole.ops.size(), subset.ops.size()) << label;
  for (size_t op = 0; op < std::min(whole.ops.size(), subset.ops.size()); ++op) {
    EXPECT_EQ(whole.ops[op].kind, subset.ops[op].kind) << label << " op " << op;
    EXPECT_EQ(whole.ops[op].id, subset.ops[op].id) << label << " op " << op;
  }
  EXPECT_EQ(std::tie(a.added, a.changed, a.removed, a.moved_workloads, a.learned_copied, a.learned_removed),
            std::tie(b.added, b.changed, b.removed, b.moved_workloads, b.learned_copied, b.learned_removed))
      << label;
  EXPECT_EQ(a.errors, b.errors) << label;
  EXPECT_EQ(a.warnings, b.warnings) << label;
  return std::equal(new_out.desired.workloads.begin(), new_out.desired.workloads.end(),
                    old_out.desired.workloads.begin(), old_out.desired.workloads.end(),
                    [](const auto& x, const auto& y) { return abiEqual(x.first, y.first) && abiEqual(x.second, y.second); });
}

// syncMaps() plans only what changed when no workload moves
// (sync/changed_subset.h): on the generated changes it must sync exactly as
// the sync that plans every entry.
TEST(MapSyncInvariant, SyncOfWhatChangedWritesExactlyWhatAFullSyncWrites) {
  constexpr int kCases = 300;
  std::mt19937 rng(20261208);
  const auto options = compiler::testing::options({"10.0.0.0/8"}, {{"10.0.0.10", 53}});
  size_t subset_cases = 0;
  for (int i = 0; i < kCases; ++i) {
    const Shape from = randomShape(rng);
    const auto old_policy = build(from), new_policy = build(mutate(from, rng));
    const auto cgroups = compiler::testing::cgroupsFor(old_policy);
    const auto [old_out, new_out] = compileChange(old_policy, new_policy, cgroups, options);
    subset_cases += expectSubsetSyncMatchesFull(old_out, new_out, "case " + std::to_string(i));
    if (HasFailure()) return;
  }
  std::printf("  %d generated changes, %zu without a workload move (planned by what changed)\n", kCases, subset_cases);
  EXPECT_GT(subset_cases, kCases / 4u);
}

// Changes whose intermediate states depend on prefixes that did not change:
// the ones covering a new, removed or changed prefix (the blend of old and new
// classes reads them), and a class id passing from one prefix to another.
TEST(MapSyncInvariant, SyncOfWhatChangedReadsTheCoveringPrefixes) {
  using policy::Resolution;
  const auto options = compiler::testing::options({}, {});
  auto policyOf = [](std::vector<policy::ServiceEntry> entries) {
    policy::PolicySnapshot p;
    p.mesh.outbound_mode = policy::OutboundMode::kRegistryOnly;
    p.workloads.push_back(compiler::testing::workload("prod", "web"));
    p.service_entries = std::move(entries);
    return p;
  };
  auto entry = [](const std::string& name, const std::string& cidr, uint32_t number) {
    return serviceEntry("prod", name, {name + ".example.com"}, {cidr}, {port(number)}, {}, Resolution::kNone);
  };
  const std::vector<std::pair<std::vector<policy::ServiceEntry>, std::vector<policy::ServiceEntry>>> cases = {
      // A /32 appears inside a /24 that changes its port in the same update.
      {{entry("wide", "192.0.2.0/24", 80)}, {entry("wide", "192.0.2.0/24", 443), entry("one", "192.0.2.10/32", 8080)}},
      // ... and goes away again.
      {{entry("wide", "192.0.2.0/24", 443), entry("one", "192.0.2.10/32", 8080)}, {entry("wide", "192.0.2.0/24", 80)}},
      // A /16 appears above /24s that stay.
      {{entry("a", "198.51.100.0/24", 80), entry("b", "203.0.113.0/24", 80)},
       {entry("a", "198.51.100.0/24", 80), entry("b", "203.0.113.0/24", 80), entry("wide", "198.51.0.0/16", 443)}},
      // A /24 split in two /25s that take its place.
      {{entry("a", "192.0.2.0/24", 80)}, {entry("a", "192.0.2.0/25", 80), entry("b", "192.0.2.128/25", 80)}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto old_policy = policyOf(cases[i].first), new_policy = policyOf(cases[i].second);
    const auto cgroups = compiler::testing::cgroupsFor(old_policy);
    const auto [old_out, new_out] = compileChange(old_policy, new_policy, cgroups, options);
    EXPECT_TRUE(expectSubsetSyncMatchesFull(old_out, new_out, "directed case " + std::to_string(i)));
  }
}
}  // namespace
}  // namespace egressd::testing
