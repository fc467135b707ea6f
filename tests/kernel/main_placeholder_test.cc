#include <gtest/gtest.h>
TEST(Placeholder, Removed) { SUCCEED(); }
