// checkpoint_diff A B: compares the parameters of the latest committed checkpoints in directories
// A and B with the runtime tests' tolerance (largest difference 1e-3, mean 1e-5: distributed runs
// sum the same gradients in another order; see tests/orchestrator/runtime_test_util.h). Prints
// both steps and the differences; exit 0 when the steps and every tensor's shape agree and the
// differences are within tolerance, 1 otherwise, 2 on bad usage or an unreadable checkpoint.
#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/model/checkpoint.h"

namespace {

constexpr double kTolerance = 1e-3;
constexpr double kMeanTolerance = 1e-5;

bool Load(const std::string& dir, int64_t* step, std::map<std::string, std::vector<float>>* out) {
  auto checkpoint = tangram::train::LoadLatest(dir);
  if (!checkpoint.ok()) {
    std::cerr << "checkpoint_diff: " << dir << ": " << checkpoint.status() << "\n";
    return false;
  }
  *step = checkpoint->step;
  for (const auto& layer : checkpoint->layers) {
    for (const auto& t : layer.params) (*out)[t.name] = t.data;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: checkpoint_diff DIR_A DIR_B\n";
    return 2;
  }
  int64_t step_a = 0, step_b = 0;
  std::map<std::string, std::vector<float>> a, b;
  if (!Load(argv[1], &step_a, &a) || !Load(argv[2], &step_b, &b)) return 2;
  std::cout << "steps " << step_a << " and " << step_b << ", " << a.size() << " and " << b.size()
            << " tensors\n";
  if (step_a != step_b || a.size() != b.size()) return 1;
  double worst = 0, sum = 0;
  int64_t count = 0;
  for (const auto& [name, values] : a) {
    auto other = b.find(name);
    if (other == b.end() || other->second.size() != values.size()) {
      std::cout << "tensor " << name << " missing or resized\n";
      return 1;
    }
    for (size_t i = 0; i < values.size(); ++i) {
      const double d = std::abs(static_cast<double>(values[i]) - other->second[i]);
      worst = std::max(worst, d);
      sum += d;
      ++count;
    }
  }
  const double mean = count > 0 ? sum / count : 0;
  std::cout << "largest difference " << worst << ", mean " << mean << " over " << count
            << " parameters (tolerance " << kTolerance << ", " << kMeanTolerance << ")\n";
  return worst <= kTolerance && mean <= kMeanTolerance ? 0 : 1;
}
