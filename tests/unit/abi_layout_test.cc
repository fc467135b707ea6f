// The ABI header is shared by clang -target bpf and the host compiler: pin
// every size and offset, and prove map keys have no hidden padding (hashes
// and LPM tries compare raw bytes).
#include <gtest/gtest.h>

#include <cstddef>
#include <type_traits>

#include "egressd/abi.h"

namespace {

TEST(AbiLayout, KeysHaveNoPadding) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_workload_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_prefix_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_port_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_server_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_name_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_learned_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_pending_key>);
}

TEST(AbiLayout, ValuesHaveNoPadding) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_workload_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_scope_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_prefix_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_port_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_counter>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_server_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_name_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_learned_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_pending_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_dns_punt>);
}

TEST(AbiLayout, DnsSizesAndOffsets) {
  EXPECT_EQ(sizeof(egressd_dns_server_key), 20u);
  EXPECT_EQ(offsetof(egressd_dns_server_key, port), 16u);
  EXPECT_EQ(sizeof(egressd_dns_name_key), 8u);
  EXPECT_EQ(offsetof(egressd_dns_name_value, exact_scopes), 8u);
  EXPECT_EQ(offsetof(egressd_dns_name_value, wildcard_scopes), 8u + 8u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(offsetof(egressd_dns_name_value, rname_len), 8u + 16u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(offsetof(egressd_dns_name_value, rname), 16u + 16u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(sizeof(egressd_dns_name_value), 16u + 16u * EGRESSD_SCOPE_WORDS + EGRESSD_DNS_RNAME_SIZE);
  EXPECT_EQ(sizeof(egressd_dns_learned_key), 20u);
  EXPECT_EQ(offsetof(egressd_dns_learned_key, addr), 4u);
  EXPECT_EQ(sizeof(egressd_dns_learned_value), 32u);
  EXPECT_EQ(offsetof(egressd_dns_learned_value, expires_ns), 16u);
  EXPECT_EQ(offsetof(egressd_dns_learned_value, hits), 24u);
  EXPECT_EQ(sizeof(egressd_dns_pending_key), 16u);
  EXPECT_EQ(offsetof(egressd_dns_pending_key, id), 8u);
  EXPECT_EQ(sizeof(egressd_dns_pending_value), 40u);
  EXPECT_EQ(offsetof(egressd_dns_pending_value, resolver), 16u);
  EXPECT_EQ(offsetof(egressd_dns_pending_value, resolver_port), 32u);
  EXPECT_EQ(offsetof(egressd_dns_punt, resolver), 16u);
  EXPECT_EQ(offsetof(egressd_dns_punt, payload_len), 34u);
  EXPECT_EQ(offsetof(egressd_dns_punt, tcp_seq), 36u);
  EXPECT_EQ(offsetof(egressd_dns_punt, payload), 48u);
  EXPECT_EQ(sizeof(egressd_dns_punt), 48u + EGRESSD_DNS_PUNT_MAX);
}

TEST(AbiLayout, DnsBoundsMatchTheParser) {
  // The reversed name in dns_names is compared with the parser's rname.
  EXPECT_EQ(EGRESSD_DNS_RNAME_SIZE, 256);
  EXPECT_EQ(EGRESSD_DNS_CLASSES_PER_IP & (EGRESSD_DNS_CLASSES_PER_IP - 1), 0);
}

TEST(AbiLayout, SizesAndOffsets) {
  EXPECT_EQ(sizeof(egressd_abi_info), 8u);
  EXPECT_EQ(sizeof(egressd_workload_key), 8u);
  EXPECT_EQ(sizeof(egressd_workload_value), 8u);
  EXPECT_EQ(offsetof(egressd_workload_value, flags), 4u);
  EXPECT_EQ(sizeof(egressd_scope_value), 16u);
  EXPECT_EQ(offsetof(egressd_scope_value, outbound_mode), 4u);
  EXPECT_EQ(offsetof(egressd_scope_value, name_hash), 8u);
  EXPECT_EQ(sizeof(egressd_prefix_key), 20u);
  EXPECT_EQ(offsetof(egressd_prefix_key, addr), 4u);
  EXPECT_EQ(sizeof(egressd_port_key), 8u);
  EXPECT_EQ(offsetof(egressd_port_key, port), 4u);
  EXPECT_EQ(offsetof(egressd_port_key, protocol), 6u);
  EXPECT_EQ(sizeof(egressd_port_value), 16u * EGRESSD_SCOPE_WORDS + 16u);
  EXPECT_EQ(offsetof(egressd_port_value, redirect_scopes), 8u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(offsetof(egressd_port_value, flags), 16u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(offsetof(egressd_port_value, gateway_id), 16u * EGRESSD_SCOPE_WORDS + 8u);
  EXPECT_EQ(sizeof(egressd_counter), 16u);
}

TEST(AbiLayout, GatewaySizesAndOffsets) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_gateway_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_redirect_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_redirect_state>);
  EXPECT_EQ(sizeof(egressd_redirect_key), 8u);
  EXPECT_EQ(sizeof(egressd_gateway_value), 20u);
  EXPECT_EQ(offsetof(egressd_gateway_value, port), 16u);
  EXPECT_EQ(offsetof(egressd_gateway_value, family), 18u);
  EXPECT_EQ(sizeof(egressd_redirect_state), 40u);
  EXPECT_EQ(offsetof(egressd_redirect_state, via_addr), 16u);
  EXPECT_EQ(offsetof(egressd_redirect_state, orig_port), 32u);
  EXPECT_EQ(offsetof(egressd_redirect_state, gateway_id), 36u);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_redirect_slot>);
  EXPECT_EQ(sizeof(egressd_redirect_slot), 48u);
  EXPECT_EQ(offsetof(egressd_redirect_slot, state), 8u);
  static_assert((EGRESSD_REDIRECT_SLOTS & (EGRESSD_REDIRECT_SLOTS - 1)) == 0, "slot index is cookie & (N - 1)");
}

TEST(AbiLayout, ScopeBitmapCoversEveryScope) {
  EXPECT_EQ(EGRESSD_SCOPE_WORDS * 64, EGRESSD_MAX_SCOPES);
}

}  // namespace

namespace {

TEST(AbiLayout, ObservabilitySizesAndOffsets) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_flow_key>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_flow_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_flow_event>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_tc_iface_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_tc_inbound_key>);
  EXPECT_EQ(sizeof(egressd_flow_key), 32u);
  EXPECT_EQ(offsetof(egressd_flow_key, addr), 8u);
  EXPECT_EQ(offsetof(egressd_flow_key, port), 24u);
  EXPECT_EQ(offsetof(egressd_flow_key, protocol), 26u);
  EXPECT_EQ(sizeof(egressd_flow_value), 104u);
  EXPECT_EQ(offsetof(egressd_flow_value, bytes_out), 32u);
  EXPECT_EQ(offsetof(egressd_flow_value, last_seen_ns), 80u);
  EXPECT_EQ(offsetof(egressd_flow_value, scope_id), 96u);
  EXPECT_EQ(sizeof(egressd_flow_event), 56u);
  EXPECT_EQ(offsetof(egressd_flow_event, addr), 16u);
  EXPECT_EQ(offsetof(egressd_flow_event, verdict), 36u);
  EXPECT_EQ(sizeof(egressd_tc_iface_value), 16u + 16u * EGRESSD_TC_IFACE_ADDRS);
  EXPECT_EQ(offsetof(egressd_tc_iface_value, addrs), 16u);
  EXPECT_EQ(sizeof(egressd_tc_inbound_key), 32u);
  EXPECT_EQ(offsetof(egressd_tc_inbound_key, remote_port), 20u);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_inbound_udp_key>);
  EXPECT_EQ(sizeof(egressd_inbound_udp_key), 32u);
  EXPECT_EQ(offsetof(egressd_inbound_udp_key, addr), 8u);
  EXPECT_EQ(offsetof(egressd_inbound_udp_key, remote_port), 24u);
  EXPECT_EQ(offsetof(egressd_inbound_udp_key, local_port), 26u);
}

}  // namespace

namespace {

// The cgroup maps the agent writes beside the policy (identity, sock_create).
TEST(AbiLayout, CgroupMapValues) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_pods_parent_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_backstop_value>);
  EXPECT_EQ(sizeof(egressd_pods_parent_value), 8u);
  EXPECT_EQ(sizeof(egressd_backstop_value), 8u);
  EXPECT_EQ(offsetof(egressd_backstop_value, state), 0u);
}

}  // namespace

namespace {

// Connected UDP (lib/udp_connect.h): the decision held per socket, and the
// pending slots an allowed connect() claims.
TEST(AbiLayout, UdpConnectMaps) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_udp_connect_decision>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_udp_connect_verdict>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_udp_pending_slot>);
  EXPECT_EQ(sizeof(egressd_udp_connect_decision), 40u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, addr), 8u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, port), 24u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, verdict), 26u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, hook), 27u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, reason), 28u);
  EXPECT_EQ(offsetof(egressd_udp_connect_decision, scope_id), 32u);
  EXPECT_EQ(sizeof(egressd_udp_connect_verdict), 48u);
  EXPECT_EQ(offsetof(egressd_udp_connect_verdict, active), 40u);
  EXPECT_EQ(sizeof(egressd_udp_pending_slot), 48u);
  EXPECT_EQ(offsetof(egressd_udp_pending_slot, decision), 8u);
}

}  // namespace
