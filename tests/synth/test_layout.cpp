#include <gtest/gtest.h>
TEST(Layout, Placeholder) {}
