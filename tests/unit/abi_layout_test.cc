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
}

TEST(AbiLayout, ValuesHaveNoPadding) {
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_workload_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_scope_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_prefix_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_port_value>);
  EXPECT_TRUE(std::has_unique_object_representations_v<egressd_counter>);
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
  EXPECT_EQ(sizeof(egressd_port_value), 8u * EGRESSD_SCOPE_WORDS + 8u);
  EXPECT_EQ(offsetof(egressd_port_value, flags), 8u * EGRESSD_SCOPE_WORDS);
  EXPECT_EQ(sizeof(egressd_counter), 16u);
}

TEST(AbiLayout, ScopeBitmapCoversEveryScope) {
  EXPECT_EQ(EGRESSD_SCOPE_WORDS * 64, EGRESSD_MAX_SCOPES);
}

}  // namespace
