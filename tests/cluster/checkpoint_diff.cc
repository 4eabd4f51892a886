// checkpoint_diff A B [LARGEST]: compares the parameters of the latest committed checkpoints in
// directories A and B with the runtime tests' tolerance (largest difference 1e-3, mean 1e-5:
// distributed runs sum the same gradients in another order; see
// tests/orchestrator/runtime_test_util.h). Over more steps AdamW lets a few near-zero-gradient
// elements drift further on rounding alone, so longer runs may pass a larger LARGEST; the mean
// stays at 1e-5, which a lost step or a wrong batch share (~1e-3 and more) cannot pass. Prints
// both steps and the differences; exit 0 when the steps and every tensor's shape agree and the
// differences are within tolerance, 1 otherwise, 2 on bad usage or an unreadable checkpoint.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/model/checkpoint.h"

namespace {

constexpr double kDefaultTolerance = 1e-3;
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
  double tolerance = kDefaultTolerance;
  if (argc == 4) tolerance = std::atof(argv[3]);
  if ((argc != 3 && argc != 4) || !(tolerance > 0)) {
    std::cerr << "usage: checkpoint_diff DIR_A DIR_B [LARGEST_DIFFERENCE]\n";
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
            << " parameters (tolerance " << tolerance << ", " << kMeanTolerance << ")\n";
  return worst <= tolerance && mean <= kMeanTolerance ? 0 : 1;
}
