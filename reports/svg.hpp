#pragma once
// Small inline-SVG charts for the HTML reports: no scripts, no external resources, fixed
// sizes, text escaped. Each returns one <svg> element.
#include <string>
#include <vector>

namespace moesim::reports::svg {

struct Series {
  std::string name;
  std::string color;           // CSS colour
  std::vector<double> values;  // one per category (NaN = absent)
};

// Vertical grouped bars over categories; `log_scale` plots log10(1 + v).
std::string bar_chart(const std::string& title, const std::vector<std::string>& categories, const std::vector<Series>& series,
                      const std::string& y_label, bool log_scale);

// Horizontal grouped bars (one row per category), log10 x axis; for token thresholds.
std::string hbar_log_chart(const std::string& title, const std::vector<std::string>& categories, const std::vector<Series>& series,
                           const std::string& x_label);

std::string escape(const std::string& s);  // XML text / attribute escaping

}  // namespace moesim::reports::svg
