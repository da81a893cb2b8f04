#include <gtest/gtest.h>
TEST(SynthCli, Placeholder) {}
