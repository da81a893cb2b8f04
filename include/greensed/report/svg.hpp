// Small self-contained SVG charts for reports (no plotting dependency): line charts with markers
// and grouped bar charts, with "nice" axis ticks, grid lines and a legend.
#pragma once

#include <string>
#include <vector>

namespace greensed::report {

struct Series {
  std::string label;
  std::vector<double> x, y;  // NaN points are skipped (the line breaks there)
};

std::string svg_line_chart(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, const std::string& y_label);

// categories along x; one bar per series in each category (series[i].y[j] = value of category j).
std::string svg_bar_chart(const std::vector<std::string>& categories,
                          const std::vector<Series>& series, const std::string& title,
                          const std::string& x_label, const std::string& y_label);

// Tick positions covering [lo, hi] with about `target` steps of 1, 2 or 5 × 10^k.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

}  // namespace greensed::report
