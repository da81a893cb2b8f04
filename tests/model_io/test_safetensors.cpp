// safetensors reader/writer: round trip, byte-for-byte agreement with the Python writer
// (tests/data/model_io/reference.safetensors, made by scripts/safetensors_io.py and checked there
// against the safetensors package), and an exact error for every malformed case.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/model/safetensors.hpp"

namespace greensed::model {
namespace {

const std::string kReference =
    std::string(GREENSED_TEST_DATA_DIR) + "/model_io/reference.safetensors";

// The tensors of scripts/safetensors_io.py reference_tensors().
Safetensors reference_tensors() {
  Safetensors file;
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"cnn.cnn.conv0.weight", {2, 1, 3, 3}},
      {"cnn.cnn.conv0.bias", {2}},
      {"dense.weight", {3, 4}},
      {"scalar", {}}};
  for (size_t j = 0; j < shapes.size(); ++j) {
    int64_t n = 1;
    for (int64_t d : shapes[j].second) n *= d;
    std::vector<float> values(n);
    for (int64_t i = 0; i < n; ++i) values[i] = static_cast<float>(std::sin(0.5 * i + 0.25 * j));
    file.tensors[shapes[j].first] = Tensor::from_f32(shapes[j].second, values);
  }
  file.tensors["cnn.cnn.batchnorm0.num_batches_tracked"] = Tensor::from_i64({}, {7});
  file.tensors["step"] = Tensor::from_i64({3}, {1, -2, int64_t{1} << 40});
  file.metadata["format"] = "pt";
  return file;
}

std::string error_of(std::string_view bytes) {
  try {
    parse_safetensors(bytes, "ckpt.safetensors");
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

// A file whose header is `json` (padded) followed by `n_data` zero bytes.
std::string with_header(std::string json, size_t n_data) {
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  std::string bytes(reinterpret_cast<const char*>(&n), 8);
  return bytes + json + std::string(n_data, '\0');
}

TEST(Safetensors, WritesTheSameBytesAsPython) {
  const std::string ours = serialize_safetensors(reference_tensors());
  const std::string python = core::read_file(kReference);
  ASSERT_EQ(ours.size(), python.size());
  EXPECT_TRUE(ours == python);
}

TEST(Safetensors, ReadsThePythonFile) {
  const Safetensors expected = reference_tensors();
  const Safetensors file = read_safetensors(kReference);
  EXPECT_EQ(file.origin, kReference);
  EXPECT_EQ(file.metadata, expected.metadata);
  ASSERT_EQ(file.tensors.size(), expected.tensors.size());
  for (const auto& [name, t] : expected.tensors) {
    const Tensor& got = file.at(name);
    EXPECT_EQ(got.dtype, t.dtype) << name;
    EXPECT_EQ(got.shape, t.shape) << name;
    EXPECT_EQ(got.f32, t.f32) << name;
    EXPECT_EQ(got.i64, t.i64) << name;
  }
  EXPECT_EQ(file.at("scalar").numel(), 1);
  EXPECT_EQ(file.at("step").i64[2], int64_t{1} << 40);
}

TEST(Safetensors, RoundTripThroughAFile) {
  const auto dir = std::filesystem::temp_directory_path() / "greensed_test_safetensors";
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "sub" / "model.safetensors").string();
  Safetensors file;
  std::vector<float> big(1000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = std::ldexp(static_cast<float>(i), -7) - 3.0f;
  big[3] = -0.0f;
  big[4] = std::numeric_limits<float>::infinity();
  file.tensors["a.weight"] = Tensor::from_f32({10, 100}, big);
  file.tensors["empty"] = Tensor::from_f32({0, 4}, {});
  file.tensors["n"] = Tensor::from_i64({1}, {-5});
  file.metadata["greensed.step"] = "12";
  file.metadata["note"] = "ünïcode \"quoted\"\n";
  write_safetensors(path, file);
  const Safetensors back = read_safetensors(path);
  EXPECT_EQ(back.metadata, file.metadata);
  EXPECT_EQ(back.at("a.weight").f32.size(), 1000u);
  EXPECT_EQ(std::memcmp(back.at("a.weight").f32.data(), big.data(), 4000), 0);
  EXPECT_EQ(back.at("empty").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(back.at("n").i64, (std::vector<int64_t>{-5}));
  EXPECT_EQ(serialize_safetensors(back), serialize_safetensors(file));
  std::filesystem::remove_all(dir);
}

TEST(Safetensors, AccessorsNameFileTensorAndShape) {
  Safetensors file = reference_tensors();
  file.origin = "run/best.safetensors";
  const std::vector<int64_t> right = {3, 4}, wrong = {4, 3};
  EXPECT_EQ(file.f32("dense.weight", right).size(), 12u);
  try {
    file.f32("dense.weight", wrong);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "run/best.safetensors: tensor 'dense.weight' has shape [3, 4]; the model expects "
                 "[4, 3] (a checkpoint of a model with another net config?)");
  }
  try {
    file.at("rnn.rnn.weight_ih_l0");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "run/best.safetensors: no tensor 'rnn.rnn.weight_ih_l0' (the file has 6 tensors, "
                 "first 'cnn.cnn.batchnorm0.num_batches_tracked'); is it a greensed checkpoint of "
                 "the same model?");
  }
  EXPECT_THROW(file.f32("step", std::vector<int64_t>{3}), core::InputError);
  EXPECT_THROW(file.meta("missing"), core::InputError);
  EXPECT_EQ(file.meta("format"), "pt");
}

TEST(Safetensors, WriterRejectsInconsistentTensors) {
  Safetensors file;
  Tensor t;
  t.shape = {2, 2};
  t.f32 = {1, 2, 3};
  file.tensors["bad"] = t;
  try {
    serialize_safetensors(file);
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(), "safetensors: tensor 'bad' has shape [2, 2] but 3 values");
  }
}

TEST(Safetensors, MalformedFilesAreInputErrors) {
  EXPECT_EQ(error_of("abc"),
            "ckpt.safetensors: file is 3 bytes, shorter than the 8-byte safetensors header length; "
            "it is not a safetensors file or was cut short");
  std::string huge(16, '\0');
  huge[0] = 100;
  EXPECT_EQ(error_of(huge),
            "ckpt.safetensors: header length 100 exceeds the 8 bytes that follow it; the file is "
            "not a safetensors file or was cut short");
  EXPECT_EQ(error_of(with_header("[1,2]", 0)),
            "ckpt.safetensors: header does not start with '{'; not a safetensors file");
  EXPECT_NE(error_of(with_header("{\"a\":", 0)).find("ckpt.safetensors: header is not valid JSON"),
            std::string::npos);
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2)),
            "ckpt.safetensors: tensor 'a': dtype \"F16\" is not supported (greensed reads F32 and "
            "I64; convert the tensor with torch first)");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1]}})", 0)),
            "ckpt.safetensors: tensor 'a': missing \"data_offsets\"");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
            "ckpt.safetensors: tensor 'a': shape [-1] has a non-integer or negative dimension");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)),
            "ckpt.safetensors: tensor 'a': data_offsets [0, 4] do not hold shape [2] of F32 (8 "
            "bytes)");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)),
            "ckpt.safetensors: tensor 'a': data_offsets [0, 8] run past the 4 data bytes; the file "
            "was cut short");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
            "ckpt.safetensors: tensor 'a' starts at data byte 4, expected 0 (gap); the offsets are "
            "corrupt");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                 8)),
            "ckpt.safetensors: tensor 'b' starts at data byte 4, expected 8 (overlaps the previous "
            "tensor); the offsets are corrupt");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12)),
            "ckpt.safetensors: the tensors cover 4 data bytes but the file holds 12; the file is "
            "corrupt");
  EXPECT_EQ(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                 R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                 4)),
            "ckpt.safetensors: header names 'a' twice");
  EXPECT_EQ(error_of(with_header(R"({"__metadata__":{"step":3}})", 0)),
            "ckpt.safetensors: __metadata__ entry 'step' is 3; safetensors metadata values must be "
            "strings");
  EXPECT_EQ(error_of(with_header(R"({"a":[1]})", 0)),
            "ckpt.safetensors: tensor 'a': entry is not a JSON object");
}

TEST(Safetensors, ReadingAMissingFileNamesIt) {
  try {
    read_safetensors("/nonexistent/greensed.safetensors");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/greensed.safetensors"), std::string::npos);
  }
}

TEST(Safetensors, TruncatedPythonFileIsRejected) {
  const std::string python = core::read_file(kReference);
  for (size_t cut : {size_t{4}, size_t{20}, python.size() - 1}) {
    EXPECT_THROW(parse_safetensors(std::string_view(python).substr(0, cut), "cut"),
                 core::InputError)
        << cut;
  }
}

}  // namespace
}  // namespace greensed::model
