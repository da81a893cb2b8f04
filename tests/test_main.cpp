#include <gtest/gtest.h>

#include "greensed/core/cpu.hpp"

int main(int argc, char** argv) {
  greensed::core::ensure_openblas_coretype(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
