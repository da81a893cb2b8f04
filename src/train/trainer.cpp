#include "greensed/train/trainer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/data/batches.hpp"
#include "greensed/data/datasets.hpp"
#include "greensed/data/loader.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/writers.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/nn/loss.hpp"
#include "greensed/nn/optim.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/report/stopping.hpp"
#include "greensed/train/cache_source.hpp"
#include "greensed/train/checkpoint.hpp"
#include "greensed/train/evaluation.hpp"
#include "greensed/train/schedules.hpp"

namespace greensed::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kUjPerKwh = 3.6e12;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The teacher starts as a copy of the freshly initialised student (parameters and buffers).
void copy_model(model::Crnn& from, model::Crnn& to) {
  auto src = from.named_tensors();
  auto dst = to.named_tensors();
  GREENSED_CHECK(src.size() == dst.size(), "models differ: {} vs {} tensors", src.size(),
                 dst.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i].data_i64 != nullptr) {
      std::memcpy(dst[i].data_i64, src[i].data_i64, size_t(src[i].numel()) * sizeof(int64_t));
    } else {
      std::memcpy(dst[i].data, src[i].data, size_t(src[i].numel()) * sizeof(float));
    }
  }
}

// PyTorch Lightning's gradient_clip_val (norm): scale all gradients so their global L2 norm is at
// most max_norm.
void clip_gradients(std::span<float> grads, double max_norm) {
  double sum = 0;
  for (float g : grads) sum += double(g) * g;
  const double norm = std::sqrt(sum);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    for (float& g : grads) g = float(g * coef);
  }
}

struct StepLosses {
  double total = 0, strong = 0, weak = 0, cons_strong = 0, cons_weak = 0, t_strong = 0, t_weak = 0;
  void add(const StepLosses& o) {
    total += o.total, strong += o.strong, weak += o.weak, cons_strong += o.cons_strong,
        cons_weak += o.cons_weak, t_strong += o.t_strong, t_weak += o.t_weak;
  }
};

void write_summary(const std::string& run_dir, const nlohmann::json& j) {
  core::write_file_atomic(run_dir + "/summary.json", j.dump(2) + "\n");
}

double kwh(int64_t uj) {
  return double(uj) / kUjPerKwh;
}

}  // namespace

std::string resolve_run_dir(const core::Config& config, const std::string& explicit_dir) {
  if (!explicit_dir.empty()) return explicit_dir;
  std::string name = config.run.name;
  if (name.empty()) {
    name = config.source_path.empty() ? "run" : fs::path(config.source_path).stem().string();
  }
  return (fs::path(config.run.dir) / name).string();
}

TrainResult run_training(const core::Config& config, const TrainOptions& options) {
  const auto t_run = Clock::now();
  TrainResult result;
  result.run_dir = resolve_run_dir(config, options.run_dir);
  const std::string run_dir = result.run_dir;
  const std::string last_path = run_dir + "/checkpoints/last.safetensors";
  const bool resuming = options.resume && fs::exists(last_path);
  if (!options.resume && (fs::exists(run_dir + "/epochs.csv") || fs::exists(last_path))) {
    throw core::InputError(fmt::format(
        "{}: already holds a run; pass --resume to continue it, or choose another --run-dir",
        run_dir));
  }
  fs::create_directories(run_dir + "/checkpoints");
  core::write_file_atomic(run_dir + "/config.yaml", core::config_to_yaml(config));

  // ---- data and features
  const data::DesedSets sets = data::load_desed_sets(config);
  features::FeatureCache cache(config.features.cache_dir, features::cache_settings_from(config));
  const auto& mel = cache.settings().mel;
  const int n_frames = int(mel.n_frames(cache.settings().pad_to_samples));  // 626 for 10 s
  const uint64_t seed = uint64_t(config.training.seed);
  core::RngStream crop_rng = core::make_stream(seed, core::RngStreamId::kCrop);
  CacheFeatureSource train_source(cache, n_frames, &crop_rng);
  CacheFeatureSource eval_source(cache, n_frames, nullptr);

  // ---- models and optimiser
  model::Crnn student(config.net), teacher(config.net);
  core::RngStream init_rng = core::make_stream(seed, core::RngStreamId::kInit);
  student.init_parameters(init_rng);
  copy_model(student, teacher);
  nn::Adam adam(student.n_params());
  core::RngStream dropout_s = core::make_stream(seed, core::RngStreamId::kDropoutStudent);
  core::RngStream dropout_t = core::make_stream(seed, core::RngStreamId::kDropoutTeacher);
  TrainState state;
  if (resuming) {
    state = load_checkpoint(last_path, student, teacher, &adam.state().m, &adam.state().v);
    adam.state().step = state.adam_t;
    dropout_s = core::RngStream(state.dropout_student);
    dropout_t = core::RngStream(state.dropout_teacher);
    crop_rng = core::RngStream(state.crop);
    report::write_epochs(run_dir + "/epochs.csv", state.epochs);  // drops rows past the checkpoint
    spdlog::info("[train] resuming {} after epoch {} (step {})", run_dir, state.epoch, state.step);
  } else {
    fs::remove(run_dir + "/epochs.csv");
  }

  data::LoaderOptions loader_options;
  loader_options.batch_sizes = data::batch_sizes_from_config(config.training.batch_size);
  loader_options.seed = seed;
  loader_options.mixup = data::parse_mixup_mode(config.training.mixup);
  loader_options.audio_len = config.data.audio_max_len;
  loader_options.encoder = data::ManyHotEncoder(config.data.audio_max_len, config.feats.sample_rate,
                                                config.feats.hop_length, config.data.net_subsample);
  data::BatchLoader loader(sets.synth_train, sets.weak_train, sets.unlabeled, train_source,
                           loader_options, resuming ? &state.loader : nullptr);
  const int steps_per_epoch = loader.steps_per_epoch();
  const int64_t rampup = rampup_steps(config.training.n_epochs_warmup, steps_per_epoch);
  const int patience =
      config.stopping.patience > 0 ? config.stopping.patience : config.training.early_stop_patience;
  const auto norm = features::parse_normtype(config.scaler.normtype);
  const int n_rows =
      loader_options.batch_sizes[0] + loader_options.batch_sizes[1] + loader_options.batch_sizes[2];
  spdlog::info(
      "[train] {} synthetic, {} weak ({} held out), {} unlabelled clips; batch {} = [{}, {}, {}]; "
      "{} steps per "
      "epoch; warm-up {} steps; {} parameters",
      sets.synth_train.clips.size(), sets.weak_train.clips.size(), sets.weak_val.clips.size(),
      sets.unlabeled.files.size(), n_rows, loader_options.batch_sizes[0],
      loader_options.batch_sizes[1], loader_options.batch_sizes[2], steps_per_epoch, rampup,
      student.n_params());

  // ---- energy
  std::unique_ptr<energy::SystemEnv> env;
  std::unique_ptr<energy::Meter> meter;
  if (config.energy.enabled) {
    env = energy::SystemEnv::create(config.energy);
    meter = std::make_unique<energy::Meter>(config.energy, env->env());
    if (resuming && !state.meter_json.empty()) meter->restore(state.meter_json);
    meter->set_checkpoint(run_dir + "/energy_checkpoint.json");
    meter->start();
  }

  const int K = student.n_classes();
  const int T_out = student.frames_out(n_frames);
  std::vector<float> x, grad_strong, grad_weak;
  bool interrupted = false;
  report::StopDecision stop;

  for (int epoch = state.epoch + 1; epoch <= config.training.n_epochs && !interrupted && !stop.stop;
       ++epoch) {
    const auto t_epoch = Clock::now();
    const int epoch_win = meter ? meter->begin("epoch", energy::WindowKind::kEpoch, epoch) : -1;
    const int train_win = meter ? meter->begin("train", energy::WindowKind::kPhase, epoch) : -1;
    StepLosses sums;
    double last_lr = 0, last_w = 0;
    int steps_done = 0;
    auto t_progress = Clock::now();
    for (int s = 0; s < steps_per_epoch; ++s) {
      std::unique_ptr<data::Batch> batch = loader.next();
      const int64_t k = state.step + 1;
      const int B = batch->rows(), ns = batch->n_strong, nw = batch->n_weak;
      GREENSED_CHECK(batch->n_label_frames == T_out, "labels have {} frames, the model gives {}",
                     batch->n_label_frames, T_out);
      x = batch->features;
      features::amplitude_to_db(x);
      features::scale_instance(x, B, norm);

      student.zero_grad();
      student.forward(x.data(), B, mel.n_mels, n_frames, model::Mode::kTrain, &dropout_s, true);
      teacher.forward(x.data(), B, mel.n_mels, n_frames, model::Mode::kTrain, &dropout_t, false);
      const float* ss = student.strong();
      const float* sw = student.weak();
      const float* ts = teacher.strong();
      const float* tw = teacher.weak();
      const int64_t n_strong = int64_t(ns) * K * T_out;
      grad_strong.assign(size_t(B) * K * T_out, 0.0f);
      grad_weak.assign(size_t(B) * K, 0.0f);
      const double w = consistency_weight(k, config.training.const_max, rampup);
      StepLosses l;
      l.strong = nn::bce_mean(ss, batch->strong_labels.data(), n_strong, 1.0f, grad_strong.data());
      l.weak = nn::bce_mean(sw + size_t(ns) * K, batch->weak_labels.data(), int64_t(nw) * K, 1.0f,
                            grad_weak.data() + size_t(ns) * K);
      if (config.training.self_sup_loss == "mse") {
        l.cons_strong = nn::mse_mean(ss, ts, int64_t(B) * K * T_out, float(w), grad_strong.data());
        l.cons_weak = nn::mse_mean(sw, tw, int64_t(B) * K, float(w), grad_weak.data());
      } else {
        l.cons_strong = nn::bce_mean(ss, ts, int64_t(B) * K * T_out, float(w), grad_strong.data());
        l.cons_weak = nn::bce_mean(sw, tw, int64_t(B) * K, float(w), grad_weak.data());
      }
      l.t_strong = nn::bce_mean(ts, batch->strong_labels.data(), n_strong, 0.0f, nullptr);
      l.t_weak = nn::bce_mean(tw + size_t(ns) * K, batch->weak_labels.data(), int64_t(nw) * K, 0.0f,
                              nullptr);
      l.total = l.strong + l.weak + w * (l.cons_strong + l.cons_weak);
      for (const auto& [term, value] : {std::pair<const char*, double>{"loss_strong", l.strong},
                                        {"loss_weak", l.weak},
                                        {"loss_cons_strong", l.cons_strong},
                                        {"loss_cons_weak", l.cons_weak}}) {
        if (!std::isfinite(value)) {
          throw core::InputError(
              fmt::format("training diverged at step {} (epoch {}): {} is {}; the last good "
                          "checkpoint is {} (epoch {}); "
                          "lower opt.lr or check the input features",
                          k, epoch, term, value, resuming || state.epoch > 0 ? last_path : "none",
                          state.epoch));
        }
      }
      // The recipe's order: EMA (on_before_zero_grad) uses the student before this step's update.
      nn::ema_update(teacher.params(), student.params(), ema_alpha(k, config.training.ema_factor));
      student.backward(grad_strong.data(), grad_weak.data());
      if (config.training.gradient_clip > 0)
        clip_gradients(student.grads(), config.training.gradient_clip);
      last_lr = learning_rate(k, config.opt.lr, rampup);
      last_w = w;
      adam.step(student.params(), student.grads(), last_lr);
      state.step = k;
      state.loader = batch->state_after;
      loader.recycle(std::move(batch));
      sums.add(l);
      ++steps_done;

      if (options.progress_line && seconds_since(t_progress) >= 1.0) {
        t_progress = Clock::now();
        const double elapsed = seconds_since(t_epoch);
        const double rate = double(steps_done) * n_rows / elapsed;
        const double eta = (steps_per_epoch - steps_done) * elapsed / steps_done;
        std::string energy_text;
        if (meter) {
          const auto r = meter->report(epoch_win);
          energy_text = fmt::format("  {:.1f} W  {:.6f} kWh",
                                    r.duration_s > 0 ? r.total_uj / 1e6 / r.duration_s : 0.0,
                                    kwh(meter->run_report().total_uj));
        }
        fmt::print(stderr, "\r[train] epoch {}/{} step {}/{}  {:.1f} clips/s  ETA {:.0f} s{}   ",
                   epoch, config.training.n_epochs, steps_done, steps_per_epoch, rate, eta,
                   energy_text);
      }
      if (options.stop_requested != nullptr && options.stop_requested->load() != 0) {
        interrupted = true;
        break;
      }
    }
    if (options.progress_line) fmt::print(stderr, "\r{:80}\r", "");
    if (interrupted) {
      // Mid-epoch: the checkpoint of the last finished epoch stays the resume point; the partial
      // epoch is discarded, its steps are re-run on resume from that epoch's loader state.
      if (meter) {
        meter->end(train_win);
        meter->end(epoch_win);
      }
      spdlog::warn(
          "[train] interrupted in epoch {} after {} step(s); resume with --resume (continues after "
          "epoch {})",
          epoch, steps_done, state.epoch);
      break;
    }
    const double train_s = seconds_since(t_epoch);
    if (meter) meter->end(train_win);

    // ---- validation
    report::EpochRecord row;
    row.epoch = epoch;
    row.step = state.step;
    row.lr = last_lr;
    row.consistency_weight = last_w;
    const double n = steps_done;
    row.loss_total = sums.total / n, row.loss_strong = sums.strong / n,
    row.loss_weak = sums.weak / n;
    row.loss_cons_strong = sums.cons_strong / n, row.loss_cons_weak = sums.cons_weak / n;
    row.teacher_loss_strong = sums.t_strong / n, row.teacher_loss_weak = sums.t_weak / n;
    const auto t_val = Clock::now();
    const bool validate_now =
        epoch % config.training.validation_interval == 0 || epoch == config.training.n_epochs;
    const double nan = std::nan("");
    row.val_synth_f1_student = row.val_synth_f1_teacher = row.val_weak_f1_student =
        row.val_weak_f1_teacher = row.val_obj = nan;
    if (validate_now) {
      const int val_win =
          meter ? meter->begin("validation", energy::WindowKind::kPhase, epoch) : -1;
      const ValidationMetrics vm =
          validate(student, teacher, eval_source, sets.synth_val, sets.weak_val, config);
      if (meter) meter->end(val_win);
      row.val_synth_f1_student = vm.synth_f1_student;
      row.val_synth_f1_teacher = vm.synth_f1_teacher;
      row.val_weak_f1_student = vm.weak_f1_student;
      row.val_weak_f1_teacher = vm.weak_f1_teacher;
      row.val_obj = vm.obj;
    }
    row.val_s = seconds_since(t_val);
    row.train_s = train_s;
    row.wall_s = seconds_since(t_epoch);
    state.wall_cumulative_s += row.wall_s;
    row.wall_cumulative_s = state.wall_cumulative_s;
    double predicted = nan;
    if (meter) {
      const energy::WindowReport er = meter->end(epoch_win);
      row.kwh_cpu = kwh(er.cpu_uj), row.kwh_dram = kwh(er.dram_uj), row.kwh_gpu = kwh(er.gpu_uj);
      row.kwh_ram = kwh(er.ram_uj);
      row.kwh = er.total_kwh_pue;
      const energy::Prediction p = meter->predict(config.training.n_epochs);
      if (p.available) predicted = p.energy_j.value / 3.6e6 * config.energy.pue;
      if (p.available) {
        spdlog::info("[energy] projected run: {:.6f} kWh [{:.6f}, {:.6f}] ({}), {:.0f} s",
                     predicted, p.energy_j.low / 3.6e6 * config.energy.pue,
                     p.energy_j.high / 3.6e6 * config.energy.pue, p.band, p.duration_s.value);
      }
    }
    row.kwh_cumulative =
        (state.epochs.empty() ? 0.0 : state.epochs.back().kwh_cumulative) + row.kwh;
    row.predicted_total_kwh = predicted;

    // ---- checkpoints and stopping
    state.epoch = epoch;
    state.adam_t = adam.state().step;
    state.dropout_student = dropout_s.state();
    state.dropout_teacher = dropout_t.state();
    state.crop = crop_rng.state();
    state.epochs.push_back(row);
    if (meter) state.meter_json = meter->serialize();
    std::vector<std::string> saved;
    if (validate_now && row.val_obj > state.best_obj) {
      state.best_obj = row.val_obj;
      state.best_epoch = epoch;
      saved.push_back("best");
    }
    if (validate_now && row.val_synth_f1_teacher > state.best_f1) {
      state.best_f1 = row.val_synth_f1_teacher;
      state.best_f1_epoch = epoch;
      saved.push_back("best_f1");
    }
    if (validate_now && state.first_f1_040_epoch == 0 && row.val_synth_f1_teacher >= 0.40) {
      state.first_f1_040_epoch = epoch;
      saved.push_back("f1_040");
    }
    stop = report::decide_stop(state.epochs, config.stopping, patience,
                               report::predicted_next_epoch_kwh(state.epochs));
    if (stop.stop) {
      state.stop_policy = stop.policy;
      state.stop_reason = stop.reason;
    }
    if (epoch % config.run.checkpoint_every_epochs == 0 || epoch == config.training.n_epochs ||
        stop.stop) {
      saved.push_back("last");
    }
    for (const auto& name : saved) {
      save_checkpoint(run_dir + "/checkpoints/" + name + ".safetensors", student, teacher,
                      adam.state().m, adam.state().v, state);
    }
    report::append_epoch(run_dir + "/epochs.csv", row);
    spdlog::info(
        "[train] epoch {}/{}: loss {:.4f} (strong {:.4f}, weak {:.4f}, cons {:.5f}) lr {:.3g} | F1 "
        "synth "
        "student {:.4f} teacher {:.4f}, weak {:.4f}, obj {:.4f} | {:.1f} s, {:.6f} kWh (total "
        "{:.6f}){}",
        epoch, config.training.n_epochs, row.loss_total, row.loss_strong, row.loss_weak,
        row.loss_cons_strong + row.loss_cons_weak, row.lr, row.val_synth_f1_student,
        row.val_synth_f1_teacher, row.val_weak_f1_student, row.val_obj, row.wall_s, row.kwh,
        row.kwh_cumulative,
        saved.empty() ? "" : " [saved " + fmt::format("{}", fmt::join(saved, ", ")) + "]");
    if (stop.stop)
      spdlog::info("[train] stopping after epoch {}: {} ({})", epoch, stop.policy, stop.reason);
  }

  // ---- test of the best checkpoint on devtest
  nlohmann::json summary;
  summary["run_dir"] = run_dir;
  summary["config"] = config.source_path;
  summary["epochs_done"] = state.epoch;
  summary["n_epochs"] = config.training.n_epochs;
  summary["steps"] = state.step;
  summary["steps_per_epoch"] = steps_per_epoch;
  summary["batch_size"] = n_rows;
  summary["seed"] = config.training.seed;
  summary["best_epoch"] = state.best_epoch;
  summary["best_obj"] =
      std::isfinite(state.best_obj) ? nlohmann::json(state.best_obj) : nlohmann::json(nullptr);
  summary["best_f1_teacher"] =
      std::isfinite(state.best_f1) ? nlohmann::json(state.best_f1) : nlohmann::json(nullptr);
  summary["best_f1_epoch"] = state.best_f1_epoch;
  summary["first_f1_040_epoch"] = state.first_f1_040_epoch;
  summary["stop_policy"] = state.stop_policy;
  summary["stop_reason"] = state.stop_reason;
  const bool finished = !interrupted;
  if (finished && !sets.test.clips.empty() &&
      fs::exists(run_dir + "/checkpoints/best.safetensors")) {
    const int test_win = meter ? meter->begin("test", energy::WindowKind::kPhase) : -1;
    model::Crnn best_student(config.net), best_teacher(config.net);
    load_checkpoint(run_dir + "/checkpoints/best.safetensors", best_student, best_teacher, nullptr,
                    nullptr);
    std::vector<std::string> paths, names;
    for (const auto& clip : sets.test.clips) {
      if (clip.events.empty()) continue;  // dropped by the reference's dropna (spec §1.3)
      paths.push_back((fs::path(sets.test.folder) / clip.filename).string());
      names.push_back(clip.filename);
    }
    std::vector<ClipScores> s_scores, t_scores;
    predict(best_student, best_teacher, eval_source, paths, names, config.training.batch_size_val,
            config.scaler.normtype, s_scores, t_scores);
    for (int m = 0; m < 2; ++m) {
      const TestMetrics tm = test_scores(m == 0 ? s_scores : t_scores, sets.test, config);
      summary["test"][m == 0 ? "student" : "teacher"] = {{"psds1", tm.psds1},
                                                         {"psds2", tm.psds2},
                                                         {"intersection_f1", tm.intersection_f1},
                                                         {"event_f1", tm.event_f1},
                                                         {"n_clips", tm.n_clips}};
      spdlog::info(
          "[train] devtest {} (best epoch {}): PSDS1 {:.4f} PSDS2 {:.4f} intersection F1 {:.4f} "
          "event F1 {:.4f}",
          m == 0 ? "student" : "teacher", state.best_epoch, tm.psds1, tm.psds2, tm.intersection_f1,
          tm.event_f1);
    }
    if (meter) {
      const auto tr = meter->end(test_win);
      summary["test"]["kwh"] = tr.total_kwh_pue;
    }
  }

  result.epochs_done = state.epoch;
  result.interrupted = interrupted;
  result.stop_policy = state.stop_policy;
  result.stop_reason = state.stop_reason;
  result.best_obj = std::isfinite(state.best_obj) ? state.best_obj : 0.0;
  result.best_f1 = std::isfinite(state.best_f1) ? state.best_f1 : 0.0;
  result.best_epoch = state.best_epoch;
  result.kwh_epochs = state.epochs.empty() ? 0.0 : state.epochs.back().kwh_cumulative;
  if (meter) {
    meter->stop();
    const energy::WindowReport run = meter->run_report();
    result.kwh_run = run.total_kwh_pue;
    result.cpu_method = run.cpu_method;
    result.ram_method = run.ram_method;
    result.gpu_method = run.gpu_method;
    energy::write_outputs(*meter, run_dir);
    summary["energy"] = {{"kwh_epochs", result.kwh_epochs},
                         {"kwh_run", result.kwh_run},
                         {"kwh_cpu", kwh(run.cpu_uj)},
                         {"kwh_ram", kwh(run.ram_uj)},
                         {"kwh_gpu", kwh(run.gpu_uj)},
                         {"cpu_method", run.cpu_method},
                         {"ram_method", run.ram_method},
                         {"gpu_method", run.gpu_method},
                         {"codecarbon_2_3_4_kwh", run.cc_total_kwh},
                         {"emissions_kg", run.emissions_kg},
                         {"pue", config.energy.pue}};
  }
  summary["wall_s_epochs"] = state.wall_cumulative_s;
  summary["wall_s_this_process"] = seconds_since(t_run);
  summary["status"] = interrupted ? "interrupted" : "finished";
  write_summary(run_dir, summary);
  return result;
}

}  // namespace greensed::train
