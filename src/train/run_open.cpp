// Opening (or resuming) a training run: the run directory, the data sets and features, the models
// (seeded, --init-from, or the checkpoint being resumed), the batch loader and the energy meter.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/data/batches.hpp"
#include "greensed/model/checkpoint.hpp"
#include "greensed/model/safetensors.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/train/run_dir.hpp"
#include "run.hpp"
#include "trace.hpp"

namespace greensed::train {
namespace {

namespace fs = std::filesystem;

// The student of a safetensors file with the recipe's names: `sed_student.`-prefixed (greensed and
// converted checkpoints) or a bare CRNN state_dict (written from PyTorch).
void load_student(const std::string& path, model::Crnn& student) {
  const model::Safetensors file = model::read_safetensors(path);
  bool prefixed = false;
  for (const auto& [name, tensor] : file.tensors) {
    prefixed = prefixed || name.rfind(model::kStudentPrefix, 0) == 0;
  }
  model::load_model_tensors(file, prefixed ? model::kStudentPrefix : "", student);
}

}  // namespace

double kwh_of(int64_t uj) {
  constexpr double kUjPerKwh = 3.6e12;
  return double(uj) / kUjPerKwh;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string resolve_run_dir(const core::Config& config, const std::string& explicit_dir) {
  if (!explicit_dir.empty()) return explicit_dir;
  std::string name = config.run.name;
  if (name.empty()) {
    name = config.source_path.empty() ? "run" : fs::path(config.source_path).stem().string();
  }
  return (fs::path(config.run.dir) / name).string();
}

TrainingRun::TrainingRun(const core::Config& config, const TrainOptions& options)
    : config_(config),
      options_(options),
      crop_rng_(core::make_stream(uint64_t(config.training.seed), core::RngStreamId::kCrop)),
      mt_(config) {
  open_run_dir();
  sets_ = data::load_desed_sets(config_);
  require_validation_sets(sets_, config_);
  cache_ = std::make_unique<features::FeatureCache>(config_.features.cache_dir,
                                                    features::cache_settings_from(config_));
  n_frames_ = features::network_input_frames(config_);
  norm_ = features::parse_normtype(config_.scaler.normtype);
  train_source_ = std::make_unique<CacheFeatureSource>(*cache_, n_frames_, &crop_rng_);
  eval_source_ = std::make_unique<CacheFeatureSource>(*cache_, n_frames_, nullptr);
  init_models();
  open_loader();
  open_meter();
  if (!options_.trace_path.empty()) {
    trace_ = std::make_unique<TraceWriter>(options_.trace_path, resuming_, state_.step);
  }
}

TrainingRun::~TrainingRun() = default;

bool TrainingRun::more_epochs() const {
  return state_.epoch < config_.training.n_epochs && !interrupted_ && !stop_.stop;
}

void TrainingRun::open_run_dir() {
  run_dir_ = resolve_run_dir(config_, options_.run_dir);
  // The run directory's rules (run_dir.hpp): one owner, nothing deleted, the config checked.
  lock_ = lock_run_dir(run_dir_);
  remove_orphan_temp_files_in_run(run_dir_);
  const ResumePlan plan = plan_resume(run_dir_, options_.resume, options_.resume_from);
  resuming_ = plan.from_checkpoint;
  resume_path_ = plan.checkpoint;
  last_path_ = run_dir_ + "/checkpoints/last.safetensors";
  if (resuming_ && !options_.init_from.empty()) {
    throw core::InputError(fmt::format(
        "--init-from {}: {} is resumed from its last checkpoint; drop --init-from (the run's "
        "initial weights are in checkpoints/init.safetensors)",
        options_.init_from, run_dir_));
  }
  check_and_write_config(run_dir_, config_, resuming_, plan.epoch, options_.allow_config_change);
  fs::create_directories(run_dir_ + "/checkpoints");
}

// Resume: the last checkpoint. Otherwise the seeded init (or --init-from), written to
// checkpoints/init.safetensors before step 1 (what a lockstep replay starts from).
void TrainingRun::init_models() {
  if (resuming_) {
    nn::AdamState& adam = mt_.adam().state();
    state_ = load_checkpoint(resume_path_, mt_.student(), mt_.teacher(), &adam.m, &adam.v);
    adam.step = state_.adam_t;
    mt_.student_dropout() = core::RngStream(state_.dropout_student);
    mt_.teacher_dropout() = core::RngStream(state_.dropout_teacher);
    crop_rng_ = core::RngStream(state_.crop);
    mt_.set_last_good_checkpoint(fmt::format("{} (epoch {})", resume_path_, state_.epoch));
    keep_discarded_rows(run_dir_, state_.epoch);  // rows past it go to epochs_discarded.csv
    report::write_epochs(run_dir_ + "/epochs.csv", state_.epochs);
    spdlog::info("[train] resuming {} after epoch {} (step {})", run_dir_, state_.epoch,
                 state_.step);
    return;
  }
  fs::remove(run_dir_ + "/epochs.csv");  // a header at most: plan_resume refused any rows
  if (!options_.init_from.empty()) {
    load_student(options_.init_from, mt_.student());
    mt_.copy_student_to_teacher();
    spdlog::info("[train] student initialised from {}; the teacher is its copy",
                 options_.init_from);
  }
  const std::string init_path = run_dir_ + "/checkpoints/init.safetensors";
  model::save_models(init_path, mt_.student(), mt_.teacher(),
                     {{"greensed.content", "both models before step 1"},
                      {"greensed.init_from", options_.init_from}});
  mt_.set_last_good_checkpoint(init_path + " (the initial weights; no epoch finished yet)");
}

void TrainingRun::open_loader() {
  data::LoaderOptions lo;
  lo.batch_sizes = data::batch_sizes_from_config(config_.training.batch_size);
  lo.seed = uint64_t(config_.training.seed);
  lo.mixup = data::parse_mixup_mode(config_.training.mixup);
  lo.audio_len = config_.data.audio_max_len;
  lo.encoder = data::ManyHotEncoder(metrics::frame_grid(config_));
  loader_ =
      std::make_unique<data::BatchLoader>(sets_.synth_train, sets_.weak_train, sets_.unlabeled,
                                          *train_source_, lo, resuming_ ? &state_.loader : nullptr);
  steps_per_epoch_ = loader_->steps_per_epoch();
  n_rows_ = lo.batch_sizes[0] + lo.batch_sizes[1] + lo.batch_sizes[2];
  patience_ = config_.stopping.patience > 0 ? config_.stopping.patience
                                            : config_.training.early_stop_patience;
  spdlog::info(
      "[train] {} synthetic, {} weak ({} held out), {} unlabelled clips; batch {} = [{}, {}, {}]; "
      "{} steps per epoch; warm-up {} steps; {} parameters",
      sets_.synth_train.clips.size(), sets_.weak_train.clips.size(), sets_.weak_val.clips.size(),
      sets_.unlabeled.files.size(), n_rows_, lo.batch_sizes[0], lo.batch_sizes[1],
      lo.batch_sizes[2], steps_per_epoch_,
      rampup_steps(config_.training.n_epochs_warmup, steps_per_epoch_), mt_.student().n_params());
}

void TrainingRun::open_meter() {
  if (!config_.energy.enabled) return;
  env_ = energy::SystemEnv::create(config_.energy);
  meter_ = std::make_unique<energy::Meter>(config_.energy, env_->env());
  // A resume also carries what energy_checkpoint.json metered after the training checkpoint. A
  // run that starts again because no epoch had finished (killed in epoch 1) carries all of the
  // earlier process's energy as discarded work: it was spent on this run.
  const std::string energy_checkpoint = run_dir_ + "/energy_checkpoint.json";
  if (resuming_) {
    meter_->resume(state_.meter_json, energy_checkpoint);
  } else if (fs::exists(energy_checkpoint)) {
    meter_->resume("", energy_checkpoint);
  }
  meter_->set_checkpoint(run_dir_ + "/energy_checkpoint.json");
  meter_->start();
}

}  // namespace greensed::train
