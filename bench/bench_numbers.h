// What every benchmark program needs for its numbers: percentiles of samples, and the
// comma-separated lists of its options ("--depths 1000,100000").
#pragma once

#include <algorithm>
#include <string>
#include <vector>

namespace quern::bench {

// The p-th percentile (0..1) of `samples`, nearest rank; 0 for none.
inline double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(i, samples.size() - 1)];
}

// "1000,100000" → {1000, 100000}; throws std::invalid_argument on a non-number.
inline std::vector<int> parse_int_list(const std::string& text) {
  std::vector<int> values;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    values.push_back(std::stoi(text.substr(start, end - start)));
    start = end + 1;
  }
  return values;
}

}  // namespace quern::bench
