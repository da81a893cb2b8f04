#include "greensed/report/stopping.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "greensed/core/error.hpp"

namespace greensed::report {
namespace {

// Best monitored F1 over epochs [0, end).
double best_f1(const std::vector<EpochRecord>& h, size_t end) {
  double best = std::nan("");
  for (size_t i = 0; i < end; ++i) {
    const double f = h[i].val_synth_f1_teacher;
    if (!std::isnan(f) && (std::isnan(best) || f > best)) best = f;
  }
  return best;
}

double best_objective(const std::vector<EpochRecord>& h, size_t end) {
  double best = std::nan("");
  for (size_t i = 0; i < end; ++i) {
    const double o = h[i].val_obj;
    if (!std::isnan(o) && (std::isnan(best) || o > best)) best = o;
  }
  return best;
}

}  // namespace

int epochs_without_improvement(const std::vector<EpochRecord>& history) {
  double best = -INFINITY;
  int wait = 0;
  for (const auto& r : history) {
    if (std::isnan(r.val_obj)) continue;
    if (r.val_obj > best) {
      best = r.val_obj;
      wait = 0;
    } else {
      ++wait;
    }
  }
  return wait;
}

StopDecision decide_stop(const std::vector<EpochRecord>& history,
                         const core::StoppingConfig& policy, int patience, double next_epoch_kwh,
                         double run_kwh_so_far) {
  if (history.empty()) return {};
  const EpochRecord& last = history.back();
  const bool validated = !std::isnan(last.val_obj);

  const bool run_known = std::isfinite(run_kwh_so_far);
  const double used = run_known ? run_kwh_so_far : last.kwh_cumulative;
  if (policy.energy_budget_kwh > 0 && used + next_epoch_kwh > policy.energy_budget_kwh) {
    return {true, "energy_budget",
            fmt::format("after epoch {} the run has used {:.6f} kWh ({}); the next epoch is "
                        "predicted at {:.6f} kWh, which would cross the budget of {:.6f} kWh",
                        last.epoch, used, run_known ? "the whole run so far" : "sum of the epochs",
                        next_epoch_kwh, policy.energy_budget_kwh)};
  }
  if (!validated) return {};
  if (policy.target_f1 > 0 && last.val_synth_f1_teacher >= policy.target_f1) {
    return {true, "target_f1",
            fmt::format("epoch {} reached F1 {:.4f} >= target {:.4f}", last.epoch,
                        last.val_synth_f1_teacher, policy.target_f1)};
  }
  const int wait = epochs_without_improvement(history);
  if (patience > 0 && wait >= patience) {
    return {true, "patience",
            fmt::format("the objective has not improved for {} validated epochs (patience {})",
                        wait, patience)};
  }
  const size_t n = history.size();
  const size_t w = size_t(std::max(1, policy.gain_window));
  if (n > w) {
    const EpochRecord& then = history[n - 1 - w];
    if (policy.min_f1_gain_per_kwh > 0) {
      const double gain = best_f1(history, n) - best_f1(history, n - w);
      const double kwh = last.kwh_cumulative - then.kwh_cumulative;
      if (!std::isnan(gain) && kwh > 0 && gain / kwh < policy.min_f1_gain_per_kwh) {
        return {
            true, "f1_gain_per_kwh",
            fmt::format("over the last {} epochs the best F1 gained {:.4f} for {:.6f} kWh = {:.3f} "
                        "F1/kWh < {:.3f}",
                        w, gain, kwh, gain / kwh, policy.min_f1_gain_per_kwh)};
      }
    }
    if (policy.min_relative_improvement > 0) {
      const double before = best_objective(history, n - w);
      const double now = best_objective(history, n);
      if (!std::isnan(before) && before > 0) {
        const double rel = (now - before) / before;
        if (rel < policy.min_relative_improvement) {
          return {true, "relative_improvement",
                  fmt::format(
                      "over the last {} epochs the best objective improved by {:.4f} % < {:.4f} %",
                      w, 100 * rel, 100 * policy.min_relative_improvement)};
        }
      }
    }
  }
  return {};
}

core::StoppingConfig parse_policy(const std::string& text, int* patience) {
  core::StoppingConfig p;
  *patience = 0;
  std::istringstream in(text);
  std::string part;
  bool any = false;
  while (std::getline(in, part, ',')) {
    const auto eq = part.find('=');
    const std::string key = part.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : part.substr(eq + 1);
    double v = 0;
    try {
      size_t used = 0;
      v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::logic_error&) {
      throw core::InputError(fmt::format(
          "policy '{}': '{}' needs a number, e.g. patience=10 or energy_budget_kwh=0.02", text,
          part));
    }
    if (v < 0)
      throw core::InputError(fmt::format("policy '{}': '{}' must not be negative", text, part));
    if (key == "patience")
      *patience = int(v);
    else if (key == "energy_budget_kwh")
      p.energy_budget_kwh = v;
    else if (key == "target_f1")
      p.target_f1 = v;
    else if (key == "min_f1_gain_per_kwh")
      p.min_f1_gain_per_kwh = v;
    else if (key == "gain_window")
      p.gain_window = std::max(1, int(v));
    else if (key == "min_relative_improvement")
      p.min_relative_improvement = v;
    else {
      throw core::InputError(fmt::format(
          "policy '{}': unknown key '{}' (known: patience, energy_budget_kwh, target_f1, "
          "min_f1_gain_per_kwh, gain_window, min_relative_improvement)",
          text, key));
    }
    any = any || key != "gain_window";
  }
  if (!any) throw core::InputError(fmt::format("policy '{}': names no stopping rule", text));
  return p;
}

double predicted_next_epoch_kwh(const std::vector<EpochRecord>& history) {
  double sum = 0;
  int count = 0;
  for (size_t j = history.size() > 1 ? 1 : 0; j < history.size(); ++j, ++count)
    sum += history[j].kwh;
  return count > 0 ? sum / count : 0.0;
}

ReplayResult replay_policy(const std::vector<EpochRecord>& epochs, const std::string& policy_text) {
  if (epochs.empty()) throw core::InputError("policy replay: the run has no epochs");
  int patience = 0;
  const core::StoppingConfig policy = parse_policy(policy_text, &patience);
  ReplayResult r;
  r.name = policy_text;
  r.kwh_full = epochs.back().kwh_cumulative;
  r.f1_full = best_f1(epochs, epochs.size());
  r.stop_epoch = epochs.back().epoch;
  std::vector<EpochRecord> seen;
  for (size_t i = 0; i < epochs.size(); ++i) {
    seen.push_back(epochs[i]);
    const StopDecision d = decide_stop(seen, policy, patience, predicted_next_epoch_kwh(seen));
    if (d.stop) {
      r.stopped = true;
      r.stop_epoch = epochs[i].epoch;
      r.reason = d.policy + ": " + d.reason;
      break;
    }
  }
  const size_t end =
      size_t(std::find_if(epochs.begin(), epochs.end(),
                          [&](const EpochRecord& e) { return e.epoch == r.stop_epoch; }) -
             epochs.begin()) +
      1;
  r.kwh_used = epochs[end - 1].kwh_cumulative;
  r.kwh_saved = r.kwh_full - r.kwh_used;
  r.f1_reached = best_f1(epochs, end);
  r.f1_lost = r.f1_full - r.f1_reached;
  return r;
}

}  // namespace greensed::report
