#include "orchestrator/probe/collective_probe.h"

#include <algorithm>

#include "absl/time/clock.h"
#include "base/status_macros.h"

namespace tangram::orchestrator {
namespace {

// Busy arithmetic the compiler cannot drop: `rounds` passes over a small array (it stays in L1,
// so its rate follows the core's share, not memory bandwidth).
float Spin(std::vector<float>& a, int64_t rounds) {
  float acc = 0;
  for (int64_t r = 0; r < rounds; ++r) {
    for (float& x : a) {
      x = x * 0.999f + 0.001f;
      acc += x;
    }
  }
  return acc;
}

}  // namespace

absl::StatusOr<std::optional<double>> ProbeGroupCollective(collectives::Communicator& world,
                                                           const std::vector<RankPlace>& places,
                                                           const CollectiveProbeOptions& options) {
  const int g = options.group_size;
  const int n = world.size();
  bool same_host = g >= 2 && n % g == 0 && static_cast<int>(places.size()) == n;
  for (int r = 0; same_host && r < n; ++r) {
    same_host = places[r].host == places[r - r % g].host;
  }
  if (!same_host) return std::optional<double>();
  TANGRAM_ASSIGN_OR_RETURN(auto group, world.Split(world.rank() / g, world.rank()));

  // The arithmetic's rate with every rank at it (the conditions training computes in).
  std::vector<float> a(1024, 1.0f);
  volatile float sink = 0;
  TANGRAM_RETURN_IF_ERROR(world.Barrier());
  int64_t rounds = 0;
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Milliseconds(100)) {
    sink = sink + Spin(a, 64);
    rounds += 64;
  }
  const double per_round = absl::ToDoubleSeconds(absl::Now() - start) / static_cast<double>(rounds);
  const int64_t chunk = std::max<int64_t>(1, static_cast<int64_t>(options.compute_s / per_round));

  std::vector<float> data(std::max<size_t>(1, options.bytes / sizeof(float)), 1.0f);
  // The same compute without the collectives, every rank at it: what the loop below would take
  // if its allreduces cost nothing.
  TANGRAM_RETURN_IF_ERROR(world.Barrier());
  const absl::Time c0 = absl::Now();
  for (int i = 0; i < options.iterations; ++i) sink = sink + Spin(a, chunk);
  const double compute_only = absl::ToDoubleSeconds(absl::Now() - c0);
  TANGRAM_RETURN_IF_ERROR(world.Barrier());
  absl::Time t0 = absl::Now();
  for (int i = 0; i < options.iterations + 3; ++i) {
    if (i == 3) t0 = absl::Now();
    sink = sink + Spin(a, chunk);
    TANGRAM_RETURN_IF_ERROR(group->AllReduce(data.data(), data.data(), data.size(),
                                             collectives::DataType::kF32,
                                             collectives::ReduceOp::kSum));
  }
  const double with_collectives = absl::ToDoubleSeconds(absl::Now() - t0);
  const double waited = std::max(0.0, with_collectives - compute_only);
  double mean = waited / options.iterations;
  double sum = 0;
  TANGRAM_RETURN_IF_ERROR(
      world.AllReduce(&mean, &sum, 1, collectives::DataType::kF64, collectives::ReduceOp::kSum));
  return std::optional<double>(sum / n);
}

}  // namespace tangram::orchestrator
