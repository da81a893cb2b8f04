#include <gtest/gtest.h>

#include "greensed/core/error.hpp"
#include "greensed/nn/parameters.hpp"

namespace greensed::nn {
namespace {

TEST(ParameterStore, LaysOutTensorsInRegistrationOrderAndInitialises) {
  ParameterStore store;
  const auto w = store.add_parameter("a.weight", {3, 2}, Init::uniform(0.5f));
  const auto rm = store.add_buffer("a.running_var", {3}, Init::constant(1.0f));
  const auto n = store.add_counter("a.num_batches_tracked");
  const auto b = store.add_parameter("a.bias", {3}, Init::constant(0.25f));
  store.allocate();
  EXPECT_EQ(w.offset, 0);
  EXPECT_EQ(b.offset, 6);
  EXPECT_EQ(store.n_parameters(), 9);
  EXPECT_EQ(store.buffers().size(), 3u);
  ASSERT_EQ(store.entries().size(), 4u);
  EXPECT_EQ(store.entries()[1].name, "a.running_var");
  core::RngStream rng(1, 1);
  *store.counter(n) = 7;
  store.init(rng);
  for (int i = 0; i < 6; ++i) {
    EXPECT_LE(std::abs(store.value(w)[i]), 0.5f);
  }
  EXPECT_NE(store.value(w)[0], store.value(w)[1]);
  EXPECT_EQ(store.value(rm)[2], 1.0f);
  EXPECT_EQ(store.value(b)[0], 0.25f);
  EXPECT_EQ(*store.counter(n), 0);
  EXPECT_THROW(store.add_parameter("late", {1}, Init::constant(0)), core::InternalError);
}

}  // namespace
}  // namespace greensed::nn
