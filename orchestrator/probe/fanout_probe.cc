#include "orchestrator/probe/fanout_probe.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "base/status_macros.h"

namespace tangram::orchestrator {
namespace {

using collectives::DataType;

// The link probe's tags are 16001-16003, the CPU pool probe's 16004.
constexpr int kFanoutTag = 16005;

// The lead's side of one timing: sends to each of `peers` at once, then takes their
// acknowledgements; seconds, less 2α.
absl::StatusOr<double> SendTo(collectives::Communicator& world, const std::vector<int>& peers,
                              std::vector<float>& data, double alpha_s,
                              const std::function<double()>& clock) {
  float ack = 0;
  const double start = clock();
  std::vector<std::unique_ptr<collectives::Request>> sends;
  for (int peer : peers) {
    TANGRAM_ASSIGN_OR_RETURN(
        auto send, world.ISend(data.data(), data.size(), DataType::kF32, peer, kFanoutTag));
    sends.push_back(std::move(send));
  }
  for (auto& send : sends) TANGRAM_RETURN_IF_ERROR(send->Wait());
  for (int peer : peers) {
    TANGRAM_RETURN_IF_ERROR(world.Recv(&ack, 1, DataType::kF32, peer, kFanoutTag));
  }
  return clock() - start - 2 * alpha_s;
}

}  // namespace

std::optional<std::array<int, 3>> FanoutTrio(
    const std::vector<RankPlace>& places,
    const std::vector<partitioner::MeasuredHostLink>& host_links) {
  std::map<std::pair<std::string, std::string>, double> rate;
  for (const auto& l : host_links) {
    rate[{std::min(l.a, l.b), std::max(l.a, l.b)}] = l.bandwidth_gbs;
  }
  auto pair_rate = [&](int x, int y) {
    const std::string& a = places[x].host;
    const std::string& b = places[y].host;
    auto it = rate.find({std::min(a, b), std::max(a, b)});
    return it == rate.end() ? 0.0 : it->second;
  };
  const std::vector<int> first = FirstRankOfEachHost(places);
  std::optional<std::array<int, 3>> best;
  double best_balance = 0, best_slowest = 0;
  const size_t n = first.size();
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      for (size_t k = j + 1; k < n; ++k) {
        const int h = first[i], p = first[j], q = first[k];
        const partitioner::LinkClass c = ClassOf(places[h], places[p]);
        if (ClassOf(places[h], places[q]) != c || ClassOf(places[p], places[q]) != c) continue;
        const double r[3] = {pair_rate(h, p), pair_rate(h, q), pair_rate(p, q)};
        const double slowest = *std::min_element(r, r + 3);
        const double fastest = *std::max_element(r, r + 3);
        if (!(slowest > 0)) continue;
        const double balance = slowest / fastest;
        if (balance < kMinFanoutBalance) continue;
        // Ties (equal shaping) go to the faster trio: the shorter timing.
        if (!best || balance > best_balance ||
            (balance == best_balance && slowest > best_slowest)) {
          best = std::array<int, 3>{h, p, q};
          best_balance = balance;
          best_slowest = slowest;
        }
      }
    }
  }
  return best;
}

double FanoutLinks(double a, double b, double both) {
  const double longer = std::max(a, b);
  if (!(a > 0) || !(b > 0) || !(both > 0)) return 1;
  // (a + b) ÷ both runs from 1 (shared) to (a + b) ÷ longer (separate).
  const double separate = (a + b) / longer - 1;
  const double seen = (a + b) / both - 1;
  return 1 + std::clamp(seen / separate, 0.0, 1.0);
}

absl::StatusOr<partitioner::MeasuredFanout> ProbeFanout(collectives::Communicator& world,
                                                        const std::vector<RankPlace>& places,
                                                        const std::array<int, 3>& trio,
                                                        size_t bytes, double alpha_s,
                                                        const std::function<double()>& clock) {
  const auto [lead, p, q] = trio;
  const std::vector<std::vector<int>> rounds = {{p}, {q}, {p, q}};
  std::vector<float> data(std::max<size_t>(bytes / 4, 1), 1.0f);
  double fastest[3] = {0, 0, 0};
  for (int rep = 0; rep < 2; ++rep) {
    for (size_t i = 0; i < rounds.size(); ++i) {
      TANGRAM_RETURN_IF_ERROR(world.Barrier());
      const std::vector<int>& peers = rounds[i];
      if (world.rank() == lead) {
        TANGRAM_ASSIGN_OR_RETURN(double t, SendTo(world, peers, data, alpha_s, clock));
        if (rep == 0 || t < fastest[i]) fastest[i] = t;
      } else if (std::find(peers.begin(), peers.end(), world.rank()) != peers.end()) {
        TANGRAM_RETURN_IF_ERROR(
            world.Recv(data.data(), data.size(), DataType::kF32, lead, kFanoutTag));
        const float ack = 0;
        TANGRAM_RETURN_IF_ERROR(world.Send(&ack, 1, DataType::kF32, lead, kFanoutTag));
      }
    }
  }
  double links = FanoutLinks(fastest[0], fastest[1], fastest[2]);
  TANGRAM_RETURN_IF_ERROR(world.Broadcast(&links, 1, DataType::kF64, lead));
  partitioner::MeasuredFanout out;
  out.node = places[lead].host;
  out.peers = 2;
  out.links = links;
  return out;
}

}  // namespace tangram::orchestrator
