#include "trace.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <sstream>
#include <vector>

#include "greensed/core/error.hpp"

namespace greensed::train {
namespace {

using json = nlohmann::ordered_json;

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

json names(const data::Batch& b, int first, int n) {
  json out = json::array();
  for (int i = first; i < first + n; ++i) out.push_back(file_name(b.clips[size_t(i)]));
  return out;
}

json mixup_json(const data::MixupDraw& m) {
  if (!m.applied) return nullptr;
  return {{"weak", {{"lambda", m.lambda_weak}, {"perm", m.perm_weak}}},
          {"strong", {{"lambda", m.lambda_strong}, {"perm", m.perm_strong}}}};
}

}  // namespace

TraceWriter::TraceWriter(const std::string& path, bool resuming, int64_t resumed_step)
    : path_(path) {
  std::string kept;
  if (resuming && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {
        break;  // a line cut by the kill: everything after it is re-traced
      }
      if (j.value("step", int64_t(0)) > resumed_step) break;
      kept += line + "\n";
    }
  }
  out_.open(path, std::ios::trunc);
  if (!out_) {
    throw core::InputError(
        fmt::format("--trace {}: cannot open for writing; choose a writable path", path));
  }
  out_ << kept;
  out_.flush();
}

void TraceWriter::write(int epoch, int64_t step, const data::Batch& b, const StepSchedule& s,
                        const StepLosses& l, const DropoutPositions& dropout) {
  json j;
  j["epoch"] = epoch;
  j["step"] = step;
  j["synth"] = names(b, 0, b.n_strong);
  j["weak"] = names(b, b.n_strong, b.n_weak);
  j["unlabeled"] = names(b, b.n_strong + b.n_weak, b.n_unlabeled);
  j["mixup"] = mixup_json(b.mixup);
  json crops = json::object();
  for (size_t i = 0; i < b.first_frames.size(); ++i) {
    if (b.first_frames[i] != 0) crops[file_name(b.clips[i])] = b.first_frames[i];
  }
  if (!crops.empty()) j["first_frame"] = crops;
  j["lr"] = s.lr;
  j["consistency_weight"] = s.consistency_weight;
  j["ema_alpha"] = s.ema_alpha;
  j["loss"] = {{"strong", l.strong},
               {"weak", l.weak},
               {"cons_strong", l.cons_strong},
               {"cons_weak", l.cons_weak},
               {"total", l.total}};
  j["teacher_loss"] = {{"strong", l.teacher_strong}, {"weak", l.teacher_weak}};
  auto stream = [](const core::RngState& r) {
    return json{{"seed", r.seed}, {"stream", r.stream}, {"counter", r.counter}};
  };
  j["dropout_streams"] = {{"student", stream(dropout.student)},
                          {"teacher", stream(dropout.teacher)}};
  out_ << j.dump() << '\n';
  if (!out_) {
    throw core::InputError(
        fmt::format("--trace {}: write failed at step {} (disk full?)", path_, step));
  }
}

}  // namespace greensed::train
