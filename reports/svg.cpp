#include "reports/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moesim::reports::svg {
namespace {
std::string f1(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}
std::string short_num(double v) {
  char b[32];
  if (v >= 1e6) std::snprintf(b, sizeof b, "%.3gM", v / 1e6);
  else if (v >= 1e4) std::snprintf(b, sizeof b, "%.3gk", v / 1e3);
  else std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}
}  // namespace

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') o += c;
    }
  }
  return o;
}

std::string bar_chart(const std::string& title, const std::vector<std::string>& cats, const std::vector<Series>& series,
                      const std::string& y_label, bool log_scale) {
  const double W = 640, H = 276, left = 56, right = 12, top = 44, bottom = 64;
  const double pw = W - left - right, ph = H - top - bottom;
  auto tr = [&](double v) { return log_scale ? std::log10(1.0 + std::max(0.0, v)) : std::max(0.0, v); };
  double vmax = 0;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) vmax = std::max(vmax, tr(v));
  if (vmax <= 0) vmax = 1;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
     << "\" role=\"img\" aria-label=\"" << escape(title) << "\">";
  os << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << H << "\" fill=\"#ffffff\"/>";
  os << "<text x=\"" << left << "\" y=\"18\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">" << escape(title) << "</text>";
  os << "<line x1=\"" << left << "\" y1=\"" << top + ph << "\" x2=\"" << left + pw << "\" y2=\"" << top + ph << "\" stroke=\"#444\"/>";
  os << "<line x1=\"" << left << "\" y1=\"" << top << "\" x2=\"" << left << "\" y2=\"" << top + ph << "\" stroke=\"#444\"/>";
  os << "<text x=\"12\" y=\"" << top + ph / 2 << "\" font-size=\"11\" fill=\"#444\" transform=\"rotate(-90 12 " << top + ph / 2
     << ")\" text-anchor=\"middle\">" << escape(y_label + (log_scale ? " (log)" : "")) << "</text>";
  const std::size_t n = std::max<std::size_t>(cats.size(), 1), k = std::max<std::size_t>(series.size(), 1);
  const double gw = pw / n, bw = std::max(2.0, (gw - 6) / k);
  for (std::size_t i = 0; i < cats.size(); ++i) {
    const double gx = left + i * gw + 3;
    for (std::size_t j = 0; j < series.size(); ++j) {
      const double v = j < series.size() && i < series[j].values.size() ? series[j].values[i] : NAN;
      if (!std::isfinite(v)) continue;
      const double h = ph * tr(v) / vmax;
      os << "<rect class=\"bar\" x=\"" << f1(gx + j * bw) << "\" y=\"" << f1(top + ph - h) << "\" width=\"" << f1(bw - 1) << "\" height=\""
         << f1(h) << "\" fill=\"" << series[j].color << "\"><title>" << escape(series[j].name + " " + cats[i] + ": " + short_num(v))
         << "</title></rect>";
    }
    os << "<text x=\"" << f1(gx + gw / 2 - 3) << "\" y=\"" << top + ph + 14 << "\" font-size=\"10\" fill=\"#333\" text-anchor=\"end\" transform=\"rotate(-35 "
       << f1(gx + gw / 2 - 3) << " " << top + ph + 14 << ")\">" << escape(cats[i]) << "</text>";
  }
  double lx = left + pw - 10;
  for (std::size_t j = series.size(); j-- > 0;) {
    lx -= 8 + 7 * static_cast<double>(series[j].name.size()) + 14;
    os << "<rect x=\"" << f1(lx) << "\" y=\"25\" width=\"10\" height=\"10\" fill=\"" << series[j].color << "\"/><text x=\"" << f1(lx + 14)
       << "\" y=\"34\" font-size=\"11\" fill=\"#222\">" << escape(series[j].name) << "</text>";
  }
  os << "<text x=\"" << left - 4 << "\" y=\"" << top + 4 << "\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">"
     << short_num(log_scale ? std::pow(10.0, vmax) - 1 : vmax) << "</text>";
  os << "<text x=\"" << left - 4 << "\" y=\"" << top + ph << "\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">0</text>";
  os << "</svg>";
  return os.str();
}

std::string hbar_log_chart(const std::string& title, const std::vector<std::string>& cats, const std::vector<Series>& series,
                           const std::string& x_label) {
  const double W = 840, row = 16.0 * std::max<std::size_t>(series.size(), 1) + 10, left = 300, right = 190, top = 30, bottom = 34;
  const double H = top + bottom + row * std::max<std::size_t>(cats.size(), 1), pw = W - left - right;
  double lmax = 1;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v) && v > 0) lmax = std::max(lmax, std::log10(v));
  lmax = std::ceil(lmax);
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << f1(H) << "\" viewBox=\"0 0 " << W << " " << f1(H)
     << "\" role=\"img\" aria-label=\"" << escape(title) << "\">";
  os << "<rect x=\"0\" y=\"0\" width=\"" << W << "\" height=\"" << f1(H) << "\" fill=\"#ffffff\"/>";
  os << "<text x=\"8\" y=\"18\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">" << escape(title) << "</text>";
  for (int d = 0; d <= static_cast<int>(lmax); ++d) {
    const double x = left + pw * d / lmax;
    os << "<line x1=\"" << f1(x) << "\" y1=\"" << top << "\" x2=\"" << f1(x) << "\" y2=\"" << f1(H - bottom) << "\" stroke=\"#ddd\"/>";
    os << "<text x=\"" << f1(x) << "\" y=\"" << f1(H - bottom + 14) << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">"
       << short_num(std::pow(10.0, d)) << "</text>";
  }
  os << "<text x=\"" << left + pw / 2 << "\" y=\"" << f1(H - 6) << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444\">" << escape(x_label)
     << " (log)</text>";
  for (std::size_t i = 0; i < cats.size(); ++i) {
    const double y = top + row * i;
    os << "<text x=\"" << left - 6 << "\" y=\"" << f1(y + row / 2 + 3) << "\" font-size=\"10\" text-anchor=\"end\" fill=\"#222\">"
       << escape(cats[i].size() > 48 ? cats[i].substr(0, 47) + "…" : cats[i]) << "<title>" << escape(cats[i]) << "</title></text>";
    for (std::size_t j = 0; j < series.size(); ++j) {
      const double v = i < series[j].values.size() ? series[j].values[i] : NAN;
      const double by = y + 5 + 16.0 * j;
      if (!std::isfinite(v) || v <= 0) {
        os << "<text x=\"" << left + 4 << "\" y=\"" << f1(by + 10) << "\" font-size=\"10\" fill=\"#888\">" << escape(series[j].name)
           << ": not reported</text>";
        continue;
      }
      const double w = std::max(2.0, pw * std::log10(v) / lmax);
      os << "<rect class=\"bar\" x=\"" << left << "\" y=\"" << f1(by) << "\" width=\"" << f1(w) << "\" height=\"13\" fill=\"" << series[j].color
         << "\"><title>" << escape(series[j].name + ": " + short_num(v)) << "</title></rect>";
      os << "<text x=\"" << f1(left + w + 4) << "\" y=\"" << f1(by + 10) << "\" font-size=\"10\" fill=\"#222\">" << escape(series[j].name) << " "
         << short_num(v) << "</text>";
    }
  }
  os << "</svg>";
  return os.str();
}

}  // namespace moesim::reports::svg
