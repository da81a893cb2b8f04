#include "greensed/report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace greensed::report {
namespace {

constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 80, kRight = 190, kTop = 40, kBottom = 60;
const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string tick_label(double v) {
  if (v == 0) return "0";
  return fmt::format("{:.4g}", v);
}

struct Frame {
  double x0, x1, y0, y1;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const {
    return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom);
  }
};

std::string header(const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
      "fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">{3}</text>\n",
      kWidth, kHeight, (kWidth - kRight + kLeft) / 2, escape(title));
}

std::string y_axis(const Frame& f, const std::vector<double>& ticks, const std::string& label) {
  std::string out;
  for (double t : ticks) {
    out += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5}</text>\n",
        kLeft, kWidth - kRight, f.py(t), kLeft - 6, f.py(t) + 4, tick_label(t));
  }
  out += fmt::format(
      "<text transform=\"translate(18 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
      (kHeight - kBottom + kTop) / 2, escape(label));
  out += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"black\"/>\n",
                     kLeft, kTop, kHeight - kBottom);
  out += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"black\"/>\n",
                     kLeft, kWidth - kRight, kHeight - kBottom);
  return out;
}

std::string legend(const std::vector<Series>& series, bool boxes) {
  std::string out;
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = kTop + 10 + 18 * double(i);
    const char* c = kColours[i % 10];
    out += boxes ? fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
                               kWidth - kRight + 14, y - 10, c)
                 : fmt::format(
                       "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" "
                       "stroke-width=\"2\"/>",
                       kWidth - kRight + 12, kWidth - kRight + 30, y - 4, c);
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", kWidth - kRight + 36, y,
                       escape(series[i].label));
  }
  return out;
}

void extend(double v, double& lo, double& hi) {
  if (std::isnan(v)) return;
  lo = std::min(lo, v);
  hi = std::max(hi, v);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  }
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.back() < hi) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::string svg_line_chart(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, const std::string& y_label) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isnan(s.x[i]) || std::isnan(s.y[i])) continue;
      extend(s.x[i], x0, x1);
      extend(s.y[i], y0, y1);
    }
  }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  const auto xt = nice_ticks(std::min(0.0, x0), x1);
  const auto yt = nice_ticks(std::min(0.0, y0), y1);
  const Frame f{xt.front(), xt.back(), yt.front(), yt.back()};
  std::string out = header(title) + y_axis(f, yt, y_label);
  for (double t : xt) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", f.px(t),
                       kHeight - kBottom + 18, tick_label(t));
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     (kWidth - kRight + kLeft) / 2, kHeight - 16, escape(x_label));
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* c = kColours[k % 10];
    std::string path;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isnan(s.x[i]) || std::isnan(s.y[i])) {
        if (!path.empty())
          out += fmt::format(
              "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", c,
              path);
        path.clear();
        continue;
      }
      path += fmt::format("{:.1f},{:.1f} ", f.px(s.x[i]), f.py(s.y[i]));
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>",
                         f.px(s.x[i]), f.py(s.y[i]), c);
    }
    if (!path.empty()) {
      out += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", c, path);
    }
  }
  return out + legend(series, false) + "</svg>\n";
}

std::string svg_bar_chart(const std::vector<std::string>& categories,
                          const std::vector<Series>& series, const std::string& title,
                          const std::string& x_label, const std::string& y_label) {
  double y0 = 0, y1 = -INFINITY;
  for (const auto& s : series) {
    for (double v : s.y) extend(v, y0, y1);
  }
  if (!std::isfinite(y1)) y1 = 1;
  const auto yt = nice_ticks(y0, y1);
  const Frame f{0, double(std::max<size_t>(1, categories.size())), yt.front(), yt.back()};
  std::string out = header(title) + y_axis(f, yt, y_label);
  const double group = f.px(1) - f.px(0);
  const double bar = 0.8 * group / double(std::max<size_t>(1, series.size()));
  for (size_t j = 0; j < categories.size(); ++j) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       f.px(j + 0.5), kHeight - kBottom + 18, escape(categories[j]));
    for (size_t k = 0; k < series.size(); ++k) {
      if (j >= series[k].y.size() || std::isnan(series[k].y[j])) continue;
      const double v = series[k].y[j];
      const double x = f.px(double(j)) + 0.1 * group + bar * double(k);
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>", x,
          f.py(v), bar * 0.95, f.py(0) - f.py(v), kColours[k % 10]);
    }
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     (kWidth - kRight + kLeft) / 2, kHeight - 16, escape(x_label));
  return out + legend(series, true) + "</svg>\n";
}

}  // namespace greensed::report
