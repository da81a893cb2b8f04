// Checkpoints of the CRNN: student and teacher under the recipe's names, round trip, strict
// loading with exact errors. With GREENSED_EXPORT_CKPT_DIR set, the round-trip test also leaves
// model.safetensors and expected.json there for scripts/check_ckpt_in_torch.py (PyTorch,
// load_state_dict(strict=True)).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "golden_formulas.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/model/checkpoint.hpp"

namespace greensed::model {
namespace {

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("greensed_test_ckpt_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A model whose every tensor (buffers included) differs from a fresh one's.
void randomise(Crnn& crnn, uint64_t stream) {
  core::RngStream rng(7, stream);
  crnn.init_parameters(rng);
  for (auto& t : crnn.named_tensors()) {
    if (t.data_i64 != nullptr) {
      t.data_i64[0] = 1000 + static_cast<int64_t>(stream);
    } else if (t.kind == TensorKind::kBuffer) {
      for (int64_t i = 0; i < t.numel(); ++i) t.data[i] = static_cast<float>(rng.uniform(0.5, 2));
    }
  }
}

void expect_same(Crnn& a, Crnn& b) {
  auto ta = a.named_tensors(), tb = b.named_tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t j = 0; j < ta.size(); ++j) {
    for (int64_t i = 0; i < ta[j].numel(); ++i) {
      if (ta[j].data_i64 != nullptr) {
        ASSERT_EQ(ta[j].data_i64[i], tb[j].data_i64[i]) << ta[j].name;
      } else {
        ASSERT_EQ(ta[j].data[i], tb[j].data[i]) << ta[j].name << "[" << i << "]";
      }
    }
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checkpoint, StudentAndTeacherRoundTripUnderTheRecipesNames) {
  const core::NetConfig net;
  Crnn student(net), teacher(net);
  randomise(student, 1);
  randomise(teacher, 2);
  const auto dir = temp_dir("roundtrip");
  const std::string path = (dir / "model.safetensors").string();
  save_models(path, student, teacher, {{"greensed_epoch", "3"}});

  const Safetensors file = read_safetensors(path);
  EXPECT_EQ(file.meta("format"), "pt");
  EXPECT_EQ(file.meta("greensed_epoch"), "3");
  EXPECT_EQ(file.tensors.size(), 2u * 83u);
  EXPECT_EQ(file.at("sed_student.cnn.cnn.conv0.weight").shape, (std::vector<int64_t>{16, 1, 3, 3}));
  EXPECT_EQ(file.at("sed_teacher.rnn.rnn.weight_hh_l1_reverse").shape,
            (std::vector<int64_t>{384, 128}));
  const Tensor& tracked = file.at("sed_teacher.cnn.cnn.batchnorm6.num_batches_tracked");
  EXPECT_EQ(tracked.dtype, DType::kI64);
  EXPECT_TRUE(tracked.shape.empty());
  EXPECT_EQ(tracked.i64.at(0), 1002);
  EXPECT_TRUE(file.contains("sed_student.cnn.cnn.batchnorm0.running_var"));
  EXPECT_TRUE(file.contains("sed_student.cnn.cnn.glu3.linear.weight"));
  EXPECT_TRUE(file.contains("sed_student.dense_softmax.bias"));

  Crnn student2(net), teacher2(net);
  const Safetensors back = load_models(path, &student2, &teacher2);
  expect_same(student, student2);
  expect_same(teacher, teacher2);
  Crnn teacher_only(net);
  load_models(path, nullptr, &teacher_only);
  expect_same(teacher, teacher_only);

  // The same outputs after loading (eval mode).
  const auto x = golden::features(1, 3, 128, 626);
  teacher.forward(x.data(), 3, 128, 626, Mode::kEval, nullptr, false);
  teacher2.forward(x.data(), 3, 128, 626, Mode::kEval, nullptr, false);
  EXPECT_EQ(golden::max_abs_diff(teacher.weak(), teacher2.weak(), 30), 0.0);

  if (const char* export_dir = std::getenv("GREENSED_EXPORT_CKPT_DIR")) {
    // For scripts/check_ckpt_in_torch.py: the teacher's eval outputs on features(1), B = 3.
    std::filesystem::create_directories(export_dir);
    std::filesystem::copy_file(path, std::string(export_dir) + "/model.safetensors",
                               std::filesystem::copy_options::overwrite_existing);
    nlohmann::json expected;
    expected["weak"] = std::vector<float>(teacher.weak(), teacher.weak() + 30);
    expected["strong"] = std::vector<float>(teacher.strong(), teacher.strong() + 3 * 10 * 156);
    core::write_file_atomic(std::string(export_dir) + "/expected.json", expected.dump());
  }
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, LoadsAConvertedDesedTaskCheckpoint) {
  // scripts/make_converted_fixture.py: a Lightning .ckpt of a small CRNN, converted by
  // scripts/convert_ckpt.py, and PyTorch's eval outputs of both models.
  const std::string dir = std::string(GREENSED_TEST_DATA_DIR) + "/model_io/";
  const Safetensors expected = read_safetensors(dir + "converted_tiny_expected.safetensors");
  const auto tiny = nlohmann::json::parse(expected.meta("net"));
  core::NetConfig net;
  net.nb_filters = tiny["nb_filters"].get<std::vector<int>>();
  net.n_RNN_cell = tiny["n_RNN_cell"];
  net.nclass = tiny["nclass"];
  Crnn student(net), teacher(net);
  const Safetensors file = load_models(dir + "converted_tiny.safetensors", &student, &teacher);
  EXPECT_EQ(file.meta("lightning_global_step"), "118");
  EXPECT_EQ(student.named_tensors().at(6).data_i64[0], 1);  // batchnorm0.num_batches_tracked

  const int batch = 2, n_frames = 64;
  const auto x = golden::features(1, batch, 128, n_frames);
  for (auto [prefix, crnn] :
       {std::pair{"sed_student", &student}, std::pair{"sed_teacher", &teacher}}) {
    SCOPED_TRACE(prefix);
    crnn->forward(x.data(), batch, 128, n_frames, Mode::kEval, nullptr, false);
    const int t_out = crnn->frames_out(n_frames);
    const auto& strong =
        expected.f32(std::string(prefix) + ".strong", std::vector<int64_t>{batch, 10, t_out});
    const auto& weak = expected.f32(std::string(prefix) + ".weak", std::vector<int64_t>{batch, 10});
    EXPECT_LE(golden::max_abs_diff(crnn->strong(), strong.data(), strong.size()), 1e-5);
    EXPECT_LE(golden::max_abs_diff(crnn->weak(), weak.data(), weak.size()), 1e-5);
  }
}

TEST(Checkpoint, LoadingIsStrictAndLeavesTheModelUnchangedOnError) {
  const core::NetConfig net;
  Crnn student(net), teacher(net);
  randomise(student, 3);
  randomise(teacher, 4);
  Safetensors file;
  file.origin = "best.safetensors";
  add_model_tensors(file, kStudentPrefix, student);
  add_model_tensors(file, kTeacherPrefix, teacher);

  Crnn target(net), untouched(net);
  randomise(target, 5);
  randomise(untouched, 5);

  Safetensors missing = file;
  missing.tensors.erase("sed_teacher.rnn.rnn.bias_hh_l0");
  EXPECT_EQ(error_of([&] { load_model_tensors(missing, kTeacherPrefix, target); }),
            "best.safetensors: no tensor 'sed_teacher.rnn.rnn.bias_hh_l0' (the file has 165 "
            "tensors, first 'sed_student.cnn.cnn.batchnorm0.bias'); is it a greensed checkpoint "
            "of the same model?");

  Safetensors extra = file;
  extra.tensors["sed_student.cnn.cnn.conv7.weight"] = Tensor::from_f32({1}, {0.0f});
  EXPECT_EQ(error_of([&] { load_model_tensors(extra, kStudentPrefix, target); }),
            "best.safetensors: unexpected tensor 'sed_student.cnn.cnn.conv7.weight': the CRNN of "
            "this net config has no such tensor (a checkpoint of another model?)");
  // Other prefixes (optimiser state, ...) are not the model's business.
  extra.tensors.erase("sed_student.cnn.cnn.conv7.weight");
  extra.tensors["optimizer.exp_avg"] = Tensor::from_f32({1}, {0.0f});
  load_model_tensors(extra, kStudentPrefix, untouched);
  expect_same(untouched, student);
  randomise(untouched, 5);

  core::NetConfig other = net;
  other.nclass = 27;
  Crnn wide(other);
  EXPECT_EQ(error_of([&] { load_model_tensors(file, kStudentPrefix, wide); }),
            "best.safetensors: tensor 'sed_student.dense.weight' has shape [10, 256]; the model "
            "expects [27, 256] (a checkpoint of a model with another net config?)");

  Safetensors wrong_dtype = file;
  auto& t = wrong_dtype.tensors["sed_student.cnn.cnn.batchnorm2.num_batches_tracked"];
  t = Tensor::from_f32({}, {1.0f});
  EXPECT_EQ(error_of([&] { load_model_tensors(wrong_dtype, kStudentPrefix, target); }),
            "best.safetensors: tensor 'sed_student.cnn.cnn.batchnorm2.num_batches_tracked' has "
            "dtype F32; expected I64");

  expect_same(target, untouched);  // every failed load left the model as it was
}

}  // namespace
}  // namespace greensed::model
