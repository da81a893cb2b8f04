// Parameter and thop-rule MAC counts against every number of spec desed_baseline §3.7, and the
// `greensed model-info` command.
#include <gtest/gtest.h>

#include "support/run_command.hpp"

#include <array>
#include <cstdio>

#include "greensed/core/error.hpp"
#include "greensed/model/complexity.hpp"

namespace greensed::model {
namespace {

TEST(Complexity, EveryBlockOfTheDefaultCrnnMatchesTheSpec) {
  const Complexity c = complexity(core::NetConfig{}, 626, 128);
  struct Row {
    int c_in, c_out, t_out, f_out;
    int64_t params, conv, bn, glu, pool, sum;
  };
  // spec §3.2 shapes, §3.7 parameter formulas and MAC table.
  const std::array<Row, 7> spec = {{
      {1, 16, 313, 64, 160 + 32 + 272, 11'538'432, 5'128'192, 20'512'768, 320'512, 37'499'904},
      {16, 32, 156, 32, 4'640 + 64 + 1'056, 92'307'456, 2'564'096, 20'512'768, 159'744,
       115'544'064},
      {32, 64, 156, 16, 18'496 + 128 + 4'160, 92'012'544, 1'277'952, 20'447'232, 159'744,
       113'897'472},
      {64, 128, 156, 8, 73'856 + 256 + 16'512, 184'025'088, 1'277'952, 40'894'464, 159'744,
       226'357'248},
      {128, 128, 156, 4, 147'584 + 256 + 16'512, 184'025'088, 638'976, 20'447'232, 79'872,
       205'191'168},
      {128, 128, 156, 2, 147'584 + 256 + 16'512, 92'012'544, 319'488, 10'223'616, 39'936,
       102'595'584},
      {128, 128, 156, 1, 147'584 + 256 + 16'512, 46'006'272, 159'744, 5'111'808, 19'968,
       51'297'792},
  }};
  ASSERT_EQ(c.cnn.size(), spec.size());
  int64_t conv_params = 0, bn_params = 0, glu_params = 0;
  for (size_t i = 0; i < spec.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& b = c.cnn[i];
    EXPECT_EQ(b.c_in, spec[i].c_in);
    EXPECT_EQ(b.c_out, spec[i].c_out);
    EXPECT_EQ(b.t_out, spec[i].t_out);
    EXPECT_EQ(b.f_out, spec[i].f_out);
    EXPECT_EQ(b.params(), spec[i].params);
    EXPECT_EQ(b.conv_macs, spec[i].conv);
    EXPECT_EQ(b.bn_macs, spec[i].bn);
    EXPECT_EQ(b.glu_macs, spec[i].glu);
    EXPECT_EQ(b.pool_macs, spec[i].pool);
    EXPECT_EQ(b.macs(), spec[i].sum);
    conv_params += b.conv_params;
    bn_params += b.bn_params;
    glu_params += b.glu_params;
  }
  // §3.7 parameter table.
  EXPECT_EQ(c.cnn[0].conv_params, 160);
  EXPECT_EQ(c.cnn[1].conv_params, 4'640);
  EXPECT_EQ(c.cnn[2].conv_params, 18'496);
  EXPECT_EQ(c.cnn[3].conv_params, 73'856);
  EXPECT_EQ(c.cnn[4].conv_params + c.cnn[5].conv_params + c.cnn[6].conv_params, 442'752);
  EXPECT_EQ(bn_params, 1'248);
  EXPECT_EQ(glu_params, 71'536);
  EXPECT_EQ(c.cnn_params(), 612'688);
  ASSERT_EQ(c.rnn.size(), 2u);
  EXPECT_EQ(c.rnn[0].params, 198'144);
  EXPECT_EQ(c.rnn[1].params, 296'448);
  EXPECT_EQ(c.dense_params, 2'570);
  EXPECT_EQ(c.dense_softmax_params, 2'570);
  EXPECT_EQ(c.total_params(), 1'112'420);
  EXPECT_EQ(c.bn_buffers, 2 * 624 + 7);

  EXPECT_EQ(c.n_frames_out, 156);
  EXPECT_EQ(c.cnn_macs(), 852'383'232);
  EXPECT_EQ(c.rnn[0].macs, 2 * 99'968 * 156);
  EXPECT_EQ(c.rnn[1].macs, 2 * 149'120 * 156);
  EXPECT_EQ(c.rnn_macs(), 77'715'456);
  EXPECT_EQ(c.dense_macs + c.dense_softmax_macs, 798'720);
  EXPECT_EQ(c.softmax_macs, 4'524);
  EXPECT_EQ(c.total_macs(), 930'901'932);
}

TEST(Complexity, FollowsTheConfig) {
  core::NetConfig net;
  net.nclass = 27;
  net.n_RNN_cell = 192;
  net.attention = false;
  const Complexity c = complexity(net, 626, 128);
  EXPECT_EQ(c.cnn_macs(), 852'383'232);  // spec §11: the CNN does not depend on K or H
  // GRU at H = 192, thop: 2 directions · (3·(H+I)·H + 13·H) · 156 for I = 128 and I = 384.
  EXPECT_EQ(c.rnn_macs(), 2 * (3 * (192 + 128) * 192 + 13 * 192) * 156 +
                              2 * (3 * (192 + 384) * 192 + 13 * 192) * 156);
  EXPECT_EQ(c.dense_params, 384 * 27 + 27);
  EXPECT_EQ(c.dense_softmax_params, 0);
  EXPECT_EQ(c.softmax_macs, 0);
}

TEST(Complexity, RejectsWhatItCannotCount) {
  core::NetConfig net;
  net.activation = "relu";
  try {
    complexity(net, 626, 128);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "net.activation: greensed implements the baseline's 'glu'; found 'relu'");
  }
  try {
    complexity(core::NetConfig{}, 626, 64);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "net.pooling: an input of 626 frames × 64 mel bins leaves no frames or bins after "
                 "CNN block 6 (156 × 1 before pooling 1 × 2); use longer clips or less pooling");
  }
  net = core::NetConfig{};
  net.pooling.pop_back();
  EXPECT_THROW(complexity(net, 626, 128), core::InputError);
}

greensed::test::CommandResult run(const std::string& args) {
  return greensed::test::run_greensed(args);
}

TEST(ModelInfo, PrintsTheDcaseNumbersForTheDefaultConfig) {
  const auto [code, out] =
      run(std::string("model-info --config ") + GREENSED_SOURCE_DIR + "/configs/default.yaml");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("parameters: 1,112,420 per model"), std::string::npos) << out;
  EXPECT_NE(out.find("MACs: 930,901,932 (930.902 M) for 10 s of audio"), std::string::npos) << out;
  EXPECT_NE(out.find("cnn block 3"), std::string::npos) << out;
  EXPECT_NE(out.find("226357248"), std::string::npos) << out;
}

TEST(ModelInfo, FollowsOverridesAndRejectsBadSeconds) {
  const auto [code, out] = run("model-info --set net.nclass=27 --seconds 5");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("input 313 frames x 128 mel bins"), std::string::npos) << out;
  const auto [bad, message] = run("model-info --seconds -1");
  EXPECT_EQ(bad, 2) << message;
  EXPECT_NE(message.find("--seconds: must be positive; found -1"), std::string::npos) << message;
}

}  // namespace
}  // namespace greensed::model
