// `tangram bench collectives --islands K`: the composed hierarchical allreduce against a flat ring
// over every rank through the same bridge transport, side by side in one run.
//
// sim: `--ranks` ranks in K contiguous islands; island links α = --alpha-us, --bw-gbs; the
// bridge (each rank's cross-island port) --bw-gbs ÷ --bridge-slowdown with α = --bridge-alpha-us.
// Times are virtual (from the latest clock after a barrier to the latest clock after the call).
// mpi (under mpirun, e.g. across namespace hosts joined by a shaped veth): island = rank · K ÷
// size; wall time of the slowest rank, median of the rounds; --bridge-gbs names the shaped
// link's rate (GB/s) for bridge_fraction.
//
// Each JSON row is `tangram bench collectives`'s plus ratio_vs_flat (flat time ÷ ours),
// cross_island (the algorithm the communicator chose), bridge_busbw_gbs and bridge_fraction:
//   bridge_busbw = 2(K−1)/K · S / t, nccl-tests' busbw of an allreduce of the S-byte vector
//     among K parties, t the whole call. For K = 2 it is exactly the bytes each island sends over
//     the bridge (its members' shards, S in all; as many come back) ÷ t. For K > 2 it counts the
//     bytes the least-traffic algorithm (a ring among the islands) would send, not more.
//   bridge_fraction = bridge_busbw ÷ one island's bridge rate per direction (sim: its members ×
//     their port rate; mpi: --bridge-gbs, the rate the host's NIC is shaped to).
// The header line repeats both definitions with the rate used.
#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/benchmark.h"
#include "collectives/islands/island_communicator.h"
#include "collectives/sim/sim_world.h"

namespace tangram::collectives {
namespace {

struct Sample {
  double ours = 0, flat = 0;
  bool correct = true;
  std::string cross;
};

// One allreduce of `count` f32 in place with `algorithm`; checks the sum when `check`.
absl::Status Once(Communicator& comm, std::vector<float>& data, Algorithm algorithm, bool check) {
  const int p = comm.size();
  std::fill(data.begin(), data.end(), static_cast<float>(comm.rank() + 1));
  CallOptions call;
  call.algorithm = algorithm;
  TANGRAM_RETURN_IF_ERROR(
      comm.AllReduce(data.data(), data.data(), data.size(), DataType::kF32, ReduceOp::kSum, call));
  const float want = p * (p + 1) / 2.0f;
  if (check && std::any_of(data.begin(), data.end(), [&](float v) { return v != want; })) {
    return absl::InternalError("wrong result");
  }
  return absl::OkStatus();
}

std::string CrossName(Communicator& comm) {
  auto* islands = dynamic_cast<IslandCommunicator*>(&comm);
  return islands == nullptr
             ? "?"
             : std::string(CrossIslandAlgorithmName(islands->last_cross_island_algorithm()));
}

void PrintRow(const BenchmarkOptions& flags, int p, int k, size_t bytes, const Sample& s,
              double bridge_rate_gbs) {
  const double algbw = bytes / s.ours / 1e9;
  const double busbw = algbw * 2.0 * (p - 1) / p;
  const double bridge = 2.0 * (k - 1) / k * bytes / s.ours / 1e9;  // see the file comment
  const double ratio = s.flat / s.ours;
  if (flags.json) {
    std::printf(
        "{\"op\":\"allreduce\",\"transport\":\"islands/%s\",\"algo\":\"hierarchical\","
        "\"islands\":%d,\"ranks\":%d,\"bytes\":%zu,\"count\":%zu,\"time_us\":%.3f,"
        "\"algbw_gbs\":%.4f,\"busbw_gbs\":%.4f,\"correct\":%s,\"flat_time_us\":%.3f,"
        "\"ratio_vs_flat\":%.4f,\"cross_island\":\"%s\",\"bridge_busbw_gbs\":%.4f,"
        "\"bridge_fraction\":%.4f}\n",
        flags.transport.c_str(), k, p, bytes, bytes / 4, s.ours * 1e6, algbw, busbw,
        s.correct ? "true" : "false", s.flat * 1e6, ratio, s.cross.c_str(), bridge,
        bridge_rate_gbs > 0 ? bridge / bridge_rate_gbs : 0.0);
  } else {
    std::printf("%12zu %12.1f %12.1f %8.3f %10s %10.3f %8.3f %s\n", bytes, s.ours * 1e6,
                s.flat * 1e6, ratio, s.cross.c_str(), bridge,
                bridge_rate_gbs > 0 ? bridge / bridge_rate_gbs : 0.0, s.correct ? "OK" : "WRONG");
  }
  std::fflush(stdout);
}

void PrintHeader(const BenchmarkOptions& flags, int p, int k, double bridge_rate_gbs) {
  if (flags.json) return;
  std::printf("# allreduce f32 over %d islands of %d ranks (%s): composed vs flat ring\n", k, p / k,
              flags.transport.c_str());
  std::printf(
      "# bridge = 2(K-1)/K * bytes / ours (GB/s; K = 2: the bytes each island sends over the "
      "bridge / time); fraction = bridge / %.4f GB/s, one island's bridge rate per direction\n",
      bridge_rate_gbs);
  std::printf("%12s %12s %12s %8s %10s %10s %8s %s\n", "size(B)", "ours(us)", "flat(us)", "ratio",
              "cross", "bridge", "fraction", "correct");
}

absl::Status RunSimIslands(const BenchmarkOptions& flags) {
  const int p = flags.ranks, k = flags.islands;
  std::vector<int> island_of(p), node_of(p);
  for (int r = 0; r < p; ++r) island_of[r] = r * k / p, node_of[r] = r;
  const LinkCost inside{flags.alpha_us * 1e-6, flags.bw_gbs * 1e9};
  const LinkCost bridge{flags.bridge_alpha_us * 1e-6, flags.bw_gbs / flags.bridge_slowdown * 1e9};
  TANGRAM_ASSIGN_OR_RETURN(LinkModel links,
                           LinkModel::Hierarchical(node_of, island_of, inside, inside, bridge));
  SimOptions options;
  options.ranks = p;
  options.links = links;
  options.checksums = false;  // faults are not benchmarked; saves a pass over every message
  options.timeout = absl::Seconds(600);
  TANGRAM_ASSIGN_OR_RETURN(auto world, SimWorld::Create(options));
  const double bridge_rate = (p / k) * bridge.bandwidth_Bps / 1e9;
  PrintHeader(flags, p, k, bridge_rate);
  for (size_t bytes = flags.min_bytes; bytes <= flags.max_bytes; bytes *= 2) {
    const size_t count = std::max<size_t>(bytes / 4, 1);
    std::vector<double> before(p), after_ours(p), after_flat(p), mid(p);
    std::vector<std::string> cross(p);
    std::vector<absl::Status> results(p);
    std::vector<std::thread> threads;
    bool correct = true;
    std::mutex mu;
    for (int r = 0; r < p; ++r) {
      threads.emplace_back([&, r] {
        results[r] = [&]() -> absl::Status {
          CommunicatorOptions o;
          o.sim_world = world.get();
          o.sim_rank = r;
          o.island = island_of[r];
          o.timeout = options.timeout;
          o.island_segment_bytes = flags.segment_bytes;
          o.bridge_chunk_bytes = flags.chunk_bytes;
          TANGRAM_ASSIGN_OR_RETURN(auto comm, CreateCommunicator("islands", o));
          std::vector<float> data(count);
          for (int flat = 0; flat < 2; ++flat) {
            TANGRAM_RETURN_IF_ERROR(comm->Barrier());
            (flat ? mid : before)[r] = *comm->VirtualSeconds();
            absl::Status s = Once(*comm, data, flat ? Algorithm::kRing : Algorithm::kAuto, true);
            if (s.code() == absl::StatusCode::kInternal) {
              std::lock_guard<std::mutex> lock(mu);
              correct = false;
            } else if (!s.ok()) {
              return s;
            }
            (flat ? after_flat : after_ours)[r] = *comm->VirtualSeconds();
            if (!flat) cross[r] = CrossName(*comm);
          }
          return absl::OkStatus();
        }();
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& s : results) TANGRAM_RETURN_IF_ERROR(s);
    auto latest = [](const std::vector<double>& v) {
      return *std::max_element(v.begin(), v.end());
    };
    Sample sample;
    sample.ours = latest(after_ours) - latest(before);
    sample.flat = latest(after_flat) - latest(mid);
    sample.correct = correct;
    sample.cross = cross[0];
    PrintRow(flags, p, k, count * 4, sample, bridge_rate);
  }
  return absl::OkStatus();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

absl::Status RunMpiIslands(const BenchmarkOptions& flags) {
  TANGRAM_ASSIGN_OR_RETURN(auto world, CreateCommunicator("mpi"));
  const int p = world->size(), k = flags.islands;
  CommunicatorOptions o;
  o.island = world->rank() * k / p;
  o.island_transport = "mpi";
  o.timeout = absl::Seconds(600);
  o.island_segment_bytes = flags.segment_bytes;
  o.bridge_chunk_bytes = flags.chunk_bytes;
  TANGRAM_ASSIGN_OR_RETURN(auto comm, CreateCommunicator("islands", o));
  if (comm->rank() == 0) PrintHeader(flags, p, k, flags.bridge_gbs);
  for (size_t bytes = flags.min_bytes; bytes <= flags.max_bytes; bytes *= 2) {
    const size_t count = std::max<size_t>(bytes / 4, 1);
    std::vector<float> data(count);
    Sample sample;
    for (int flat = 0; flat < 2; ++flat) {
      absl::Status s = Once(*comm, data, flat ? Algorithm::kRing : Algorithm::kAuto, true);
      if (s.code() == absl::StatusCode::kInternal)
        sample.correct = false;
      else
        TANGRAM_RETURN_IF_ERROR(s);
    }
    sample.cross = CrossName(*comm);
    const int rounds = std::max(1, std::min(flags.iters, 5));
    std::vector<double> times(2 * rounds), slowest(2 * rounds);
    for (int round = 0; round < rounds; ++round) {
      for (int flat = 0; flat < 2; ++flat) {
        TANGRAM_RETURN_IF_ERROR(comm->Barrier());
        const absl::Time start = absl::Now();
        TANGRAM_RETURN_IF_ERROR(
            Once(*comm, data, flat ? Algorithm::kRing : Algorithm::kAuto, false));
        times[round + flat * rounds] = absl::ToDoubleSeconds(absl::Now() - start);
      }
    }
    TANGRAM_RETURN_IF_ERROR(comm->AllReduce(times.data(), slowest.data(), times.size(),
                                            DataType::kF64, ReduceOp::kMax));
    sample.ours = Median({slowest.begin(), slowest.begin() + rounds});
    sample.flat = Median({slowest.begin() + rounds, slowest.end()});
    if (comm->rank() == 0) PrintRow(flags, p, k, count * 4, sample, flags.bridge_gbs);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunIslandBenchmark(const BenchmarkOptions& flags) {
  if (flags.op != CollectiveOp::kAllReduce) {
    return absl::InvalidArgumentError("--islands benchmarks allreduce only");
  }
  if (flags.islands < 2 || !(flags.bridge_slowdown >= 1)) {
    return absl::InvalidArgumentError("--islands needs >= 2 and --bridge-slowdown >= 1");
  }
  if (flags.transport == "sim") {
    if (flags.ranks < flags.islands) {
      return absl::InvalidArgumentError("--ranks must be at least --islands");
    }
    return RunSimIslands(flags);
  }
  if (flags.transport == "mpi") return RunMpiIslands(flags);
  return absl::InvalidArgumentError("--islands runs over --transport sim or mpi");
}

}  // namespace tangram::collectives
