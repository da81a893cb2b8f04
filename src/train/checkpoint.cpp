#include "greensed/train/checkpoint.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "greensed/core/error.hpp"
#include "greensed/model/checkpoint.hpp"
#include "greensed/model/safetensors.hpp"

namespace greensed::train {
namespace {

using nlohmann::json;

json rng_json(const core::RngState& s) {
  return json{{"seed", s.seed}, {"stream", s.stream}, {"counter", s.counter}};
}
core::RngState rng_from(const json& j) {
  return {j.at("seed").get<uint64_t>(), j.at("stream").get<uint64_t>(),
          j.at("counter").get<uint64_t>()};
}

// JSON cannot hold ±inf; they are stored as null.
json real(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}
double real_from(const json& j, double fallback) {
  return j.is_null() ? fallback : j.get<double>();
}

}  // namespace

std::string train_state_to_json(const TrainState& s) {
  std::string rows = report::epochs_csv_header();
  for (const auto& r : s.epochs) rows += report::epochs_csv_row(r);
  const json j = {
      {"epoch", s.epoch},
      {"step", s.step},
      {"adam_t", s.adam_t},
      {"best_obj", real(s.best_obj)},
      {"best_epoch", s.best_epoch},
      {"best_f1", real(s.best_f1)},
      {"best_f1_epoch", s.best_f1_epoch},
      {"first_f1_040_epoch", s.first_f1_040_epoch},
      {"wall_cumulative_s", s.wall_cumulative_s},
      {"rng",
       {{"dropout_student", rng_json(s.dropout_student)},
        {"dropout_teacher", rng_json(s.dropout_teacher)},
        {"crop", rng_json(s.crop)}}},
      {"loader",
       {{"epoch_rng", rng_json(s.loader.sampler.epoch_rng)},
        {"epoch", s.loader.sampler.epoch},
        {"next_step", s.loader.sampler.next_step},
        {"mixup", rng_json(s.loader.mixup)}}},
      {"meter", s.meter_json},
      {"epochs_csv", rows},
      {"stop_policy", s.stop_policy},
      {"stop_reason", s.stop_reason},
  };
  return j.dump();
}

TrainState train_state_from_json(const std::string& text, const std::string& origin) {
  TrainState s;
  try {
    const json j = json::parse(text);
    s.epoch = j.at("epoch");
    s.step = j.at("step");
    s.adam_t = j.at("adam_t");
    s.best_obj = real_from(j.at("best_obj"), -INFINITY);
    s.best_epoch = j.at("best_epoch");
    s.best_f1 = real_from(j.at("best_f1"), -INFINITY);
    s.best_f1_epoch = j.at("best_f1_epoch");
    s.first_f1_040_epoch = j.at("first_f1_040_epoch");
    s.wall_cumulative_s = j.at("wall_cumulative_s");
    s.dropout_student = rng_from(j.at("rng").at("dropout_student"));
    s.dropout_teacher = rng_from(j.at("rng").at("dropout_teacher"));
    s.crop = rng_from(j.at("rng").at("crop"));
    const json& l = j.at("loader");
    s.loader.sampler.epoch_rng = rng_from(l.at("epoch_rng"));
    s.loader.sampler.epoch = l.at("epoch");
    s.loader.sampler.next_step = l.at("next_step");
    s.loader.mixup = rng_from(l.at("mixup"));
    s.meter_json = j.at("meter");
    s.stop_policy = j.value("stop_policy", "");
    s.stop_reason = j.value("stop_reason", "");
    const std::string rows = j.at("epochs_csv");
    s.epochs = report::parse_epochs(rows, origin + " (epoch rows)");
  } catch (const json::exception& e) {
    throw core::InputError(
        fmt::format("{}: the training state in the checkpoint is unreadable ({}); "
                    "the file is not a greensed training checkpoint or is damaged",
                    origin, e.what()));
  }
  return s;
}

void save_checkpoint(const std::string& path, model::Crnn& student, model::Crnn& teacher,
                     std::span<const float> adam_m, std::span<const float> adam_v,
                     const TrainState& state) {
  model::Safetensors file;
  model::add_model_tensors(file, model::kStudentPrefix, student);
  model::add_model_tensors(file, model::kTeacherPrefix, teacher);
  if (!adam_m.empty()) {
    const int64_t n = int64_t(adam_m.size());
    file.tensors["optimizer.exp_avg"] =
        model::Tensor::from_f32({n}, std::vector<float>(adam_m.begin(), adam_m.end()));
    file.tensors["optimizer.exp_avg_sq"] =
        model::Tensor::from_f32({n}, std::vector<float>(adam_v.begin(), adam_v.end()));
  }
  file.metadata["format"] = "greensed-train-checkpoint-1";
  file.metadata["greensed.train_state"] = train_state_to_json(state);
  model::write_safetensors(path, file);
}

TrainState load_checkpoint(const std::string& path, model::Crnn& student, model::Crnn& teacher,
                           std::vector<float>* adam_m, std::vector<float>* adam_v) {
  const model::Safetensors file = model::read_safetensors(path);
  model::load_model_tensors(file, model::kStudentPrefix, student);
  model::load_model_tensors(file, model::kTeacherPrefix, teacher);
  const int64_t n = student.n_params();
  if (adam_m != nullptr && file.contains("optimizer.exp_avg")) {
    const int64_t shape[1] = {n};
    const auto m = file.f32("optimizer.exp_avg", shape);
    const auto v = file.f32("optimizer.exp_avg_sq", shape);
    adam_m->assign(m.begin(), m.end());
    adam_v->assign(v.begin(), v.end());
  }
  return train_state_from_json(file.meta("greensed.train_state"), path);
}

void load_model_weights(const std::string& path, model::Crnn& net, const std::string& prefix) {
  const model::Safetensors file = model::read_safetensors(path);
  model::load_model_tensors(file, prefix, net);
}

}  // namespace greensed::train
