#include "greensed/report/epochs.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/text.hpp"

namespace greensed::report {
namespace {

// One table of (name, member) drives the header, the writer and the reader.
struct Column {
  const char* name;
  double EpochRecord::*real;
  long EpochRecord::*integer;
  int EpochRecord::*small;
};

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = {
      {"epoch", nullptr, nullptr, &EpochRecord::epoch},
      {"step", nullptr, &EpochRecord::step, nullptr},
      {"lr", &EpochRecord::lr, nullptr, nullptr},
      {"consistency_weight", &EpochRecord::consistency_weight, nullptr, nullptr},
      {"loss_total", &EpochRecord::loss_total, nullptr, nullptr},
      {"loss_strong", &EpochRecord::loss_strong, nullptr, nullptr},
      {"loss_weak", &EpochRecord::loss_weak, nullptr, nullptr},
      {"loss_cons_strong", &EpochRecord::loss_cons_strong, nullptr, nullptr},
      {"loss_cons_weak", &EpochRecord::loss_cons_weak, nullptr, nullptr},
      {"teacher_loss_strong", &EpochRecord::teacher_loss_strong, nullptr, nullptr},
      {"teacher_loss_weak", &EpochRecord::teacher_loss_weak, nullptr, nullptr},
      {"val_synth_f1_student", &EpochRecord::val_synth_f1_student, nullptr, nullptr},
      {"val_synth_f1_teacher", &EpochRecord::val_synth_f1_teacher, nullptr, nullptr},
      {"val_weak_f1_student", &EpochRecord::val_weak_f1_student, nullptr, nullptr},
      {"val_weak_f1_teacher", &EpochRecord::val_weak_f1_teacher, nullptr, nullptr},
      {"val_obj", &EpochRecord::val_obj, nullptr, nullptr},
      {"wall_s", &EpochRecord::wall_s, nullptr, nullptr},
      {"train_s", &EpochRecord::train_s, nullptr, nullptr},
      {"val_s", &EpochRecord::val_s, nullptr, nullptr},
      {"wall_cumulative_s", &EpochRecord::wall_cumulative_s, nullptr, nullptr},
      {"kwh_cpu", &EpochRecord::kwh_cpu, nullptr, nullptr},
      {"kwh_dram", &EpochRecord::kwh_dram, nullptr, nullptr},
      {"kwh_gpu", &EpochRecord::kwh_gpu, nullptr, nullptr},
      {"kwh_ram", &EpochRecord::kwh_ram, nullptr, nullptr},
      {"kwh", &EpochRecord::kwh, nullptr, nullptr},
      {"kwh_cumulative", &EpochRecord::kwh_cumulative, nullptr, nullptr},
      {"predicted_total_kwh", &EpochRecord::predicted_total_kwh, nullptr, nullptr},
  };
  return cols;
}

std::string format_real(double v) {
  if (std::isnan(v)) return "nan";
  return fmt::format("{:.17g}", v);  // round-trips exactly, so resume reproduces rows bit for bit
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, sep)) out.push_back(field);
  if (!line.empty() && line.back() == sep) out.emplace_back();
  return out;
}

}  // namespace

const std::vector<std::string>& epoch_columns() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& c : columns()) n.push_back(c.name);
    return n;
  }();
  return names;
}

std::string epochs_csv_header() {
  std::string out;
  for (const auto& c : columns()) out += (out.empty() ? "" : ",") + std::string(c.name);
  return out + "\n";
}

std::string epochs_csv_row(const EpochRecord& r) {
  std::string out;
  for (const auto& c : columns()) {
    if (!out.empty()) out += ",";
    if (c.real) out += format_real(r.*(c.real));
    if (c.integer) out += std::to_string(r.*(c.integer));
    if (c.small) out += std::to_string(r.*(c.small));
  }
  return out + "\n";
}

void append_epoch(const std::string& path, const EpochRecord& r) {
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  core::append_lines(path, (fresh ? epochs_csv_header() : std::string()) + epochs_csv_row(r));
}

void write_epochs(const std::string& path, const std::vector<EpochRecord>& rows) {
  std::string text = epochs_csv_header();
  for (const auto& r : rows) text += epochs_csv_row(r);
  core::write_file_atomic(path, text);
}

std::vector<EpochRecord> read_epochs(const std::string& path) {
  return parse_epochs(core::read_file(path), path);
}

std::vector<EpochRecord> parse_epochs(const std::string& text, const std::string& path) {
  const std::vector<std::string_view> lines = core::split_lines(text);
  if (lines.empty())
    throw core::InputError(fmt::format("{}: empty file (expected an epochs.csv header)", path));
  const auto header = split(std::string(lines[0]), ',');
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < header.size(); ++i) index[header[i]] = i;
  for (const char* required : {"epoch", "kwh_cumulative"}) {
    if (!index.count(required)) {
      throw core::InputError(fmt::format(
          "{}:1: missing column '{}' (is this a greensed epochs.csv?)", path, required));
    }
  }
  std::vector<EpochRecord> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line_no = int(i) + 1;
    const std::string line(lines[i]);
    if (line.empty()) continue;
    const auto fields = split(line, ',');
    if (fields.size() != header.size()) {
      throw core::InputError(fmt::format("{}:{}: expected {} fields, found {}", path, line_no,
                                         header.size(), fields.size()));
    }
    EpochRecord r;
    for (const auto& c : columns()) {
      const auto it = index.find(c.name);
      if (it == index.end()) {
        if (c.real) r.*(c.real) = std::nan("");  // an older file without this column
        continue;
      }
      const std::string& f = fields[it->second];
      try {
        size_t used = 0;
        if (c.real) r.*(c.real) = f == "nan" ? std::nan("") : std::stod(f, &used);
        if (c.integer) r.*(c.integer) = std::stol(f, &used);
        if (c.small) r.*(c.small) = std::stoi(f, &used);
        if (f != "nan" && used != f.size()) throw std::invalid_argument(f);
      } catch (const std::logic_error&) {
        throw core::InputError(
            fmt::format("{}:{}: column '{}' is not a number: '{}'", path, line_no, c.name, f));
      }
    }
    rows.push_back(r);
  }
  return rows;
}

}  // namespace greensed::report
