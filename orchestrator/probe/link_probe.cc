#include "orchestrator/probe/link_probe.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "orchestrator/probe/fanout_probe.h"
#include "orchestrator/probe/pulse.h"
#include "partitioner/comm_model.h"

namespace tangram::orchestrator {
namespace {

using collectives::CallOptions;
using collectives::Communicator;
using collectives::DataType;
using partitioner::LinkClass;

constexpr int kControlTag = 16001;
constexpr int kDataTag = 16002;
constexpr int kPulseTag = 16003;
constexpr size_t kMinLargest = 512 << 10;
constexpr size_t kBurstSmallest = 8 << 10;
constexpr size_t kBurstLargest = 512 << 10;
constexpr size_t kMinCollective = 1 << 20;
// Step 3b's rounds of host pairs: every pair up to 8 hosts; beyond, the pairs of the first seven
// rounds (each host meets seven others), about 2 × 7 sends of a class's largest size.
constexpr int kMaxHostRounds = 7;

// What the lead asks its follower to do next (the first of two control doubles; the second is
// the size in bytes).
enum Op : int { kEnd = 0, kPingPong = 1, kExchange = 2, kOneWay = 3 };

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

size_t Floats(size_t bytes) { return std::max<size_t>(bytes / 4, 1); }

// The lowest pair (a < b) of ranks joined by `c`, or {-1, -1}.
std::pair<int, int> PairOf(const std::vector<RankPlace>& places, LinkClass c) {
  for (size_t a = 0; a < places.size(); ++a) {
    for (size_t b = a + 1; b < places.size(); ++b) {
      if (ClassOf(places[a], places[b]) == c) return {static_cast<int>(a), static_cast<int>(b)};
    }
  }
  return {-1, -1};
}

// A round-robin tournament over `hosts` (the circle method; a bye for an odd count): round r
// pairs host 0 with host r + 1, and the others so that no host is in two pairs of one round.
// Rounds in order, each pair (lower, higher), at most `max_rounds` rounds.
std::vector<std::pair<int, int>> HostPairRounds(int hosts, int max_rounds) {
  std::vector<std::pair<int, int>> out;
  const int n = hosts + hosts % 2;  // with a bye, index `hosts`
  for (int r = 0; r < n - 1 && r < max_rounds; ++r) {
    std::vector<std::pair<int, int>> round = {{0, 1 + r}};
    for (int k = 1; k < n / 2; ++k) {
      round.push_back({1 + (r + k) % (n - 1), 1 + (r - k + n - 1) % (n - 1)});
    }
    for (auto [x, y] : round) {
      if (x < hosts && y < hosts) out.push_back({std::min(x, y), std::max(x, y)});
    }
  }
  return out;
}

class Prober {
 public:
  Prober(Communicator& world, const std::vector<RankPlace>& places, const LinkProbeOptions& options)
      : world_(world), places_(places), options_(options) {
    clock_ = options.clock;
    if (!clock_) {
      if (world.VirtualSeconds().has_value()) {
        clock_ = [&world] { return *world.VirtualSeconds(); };
      } else {
        clock_ = [] { return absl::ToUnixNanos(absl::Now()) * 1e-9; };
      }
    }
    size_t largest = 8;
    for (size_t s : options.sizes) largest = std::max(largest, s);
    for (size_t s : options.allreduce_bytes) largest = std::max(largest, s);
    buffer_.assign(Floats(largest) * 2, 1.0f);
  }

  absl::StatusOr<LinkProbeResult> Run() {
    LinkProbeResult result;
    bool moved = false;
    for (LinkClass c : partitioner::kAllLinkClasses) {
      auto [a, b] = PairOf(places_, c);
      if (a < 0) continue;
      // alpha (s), beta (s/byte), bidirectional GB/s, largest size, burst bytes, peak GB/s:
      // measured by a, sent to all.
      double fit[6] = {0, 0, 0, 0, 0, 0};
      if (world_.rank() == a) {
        std::vector<int> bystanders;
        for (int r = 0; r < world_.size(); ++r) {
          if (r != a && r != b) bystanders.push_back(r);
        }
        pulses_.emplace(world_, std::move(bystanders), kPulseTag,
                        absl::Seconds(options_.pulse_seconds));
        TANGRAM_ASSIGN_OR_RETURN(auto lead, PingPongLead(b, c != LinkClass::kSameNode));
        std::tie(fit[0], fit[1], fit[2], fit[3]) = lead;
        fit[4] = burst_.burst_bytes;
        fit[5] = burst_.peak_gbs;
        TANGRAM_RETURN_IF_ERROR(Pulse(/*done=*/true));
      } else if (world_.rank() == b) {
        TANGRAM_RETURN_IF_ERROR(PingPongFollow(a));
      } else {
        TANGRAM_RETURN_IF_ERROR(AwaitPulses(world_, a, kPulseTag));
      }
      TANGRAM_RETURN_IF_ERROR(world_.Broadcast(fit, 6, DataType::kF64, a));
      if (fit[1] <= 0 && fit[0] <= 0) continue;  // the clock did not move
      moved = true;
      partitioner::MeasuredLink link;
      link.link_class = c;
      link.latency_us = fit[0] * 1e6;
      link.bandwidth_gbs = fit[1] > 0 ? 1e-9 / fit[1] : 1e6;
      if (fit[2] > 0) link.bidirectional_gbs = fit[2];
      if (fit[4] > 0 && fit[5] > 0) {
        link.burst_bytes = fit[4];
        link.peak_gbs = fit[5];
      }
      link.pair = absl::StrCat(a, "-", b);
      result.links.push_back(link);
      fits_[c] = {fit[0], fit[1], fit[3]};
    }
    result.timed = moved;
    if (!moved) return result;
    TANGRAM_ASSIGN_OR_RETURN(result.nic, Nic());
    TANGRAM_ASSIGN_OR_RETURN(result.host_links, HostLinks(result.links));
    TANGRAM_ASSIGN_OR_RETURN(result.fanout, Fanout(result.host_links));
    TANGRAM_ASSIGN_OR_RETURN(result.allreduce, Allreduce());
    TANGRAM_RETURN_IF_ERROR(GradientAllreduce(&result));
    TANGRAM_RETURN_IF_ERROR(PairAllreduce(&result));
    return result;
  }

 private:
  double Now() const { return clock_(); }

  // The lead of a pair, between its transfers: tells every bystander that it is still measuring
  // (pulse.h; `done`: that it has finished). A pair's measurement is dozens of calls (about 17 s
  // at 10 Mbit/s), longer than a per-call timeout.
  absl::Status Pulse(bool done) { return done ? pulses_->Done() : pulses_->Pulse(); }

  // Rank a of a pair: drives the sizes, returns {α, β, bidirectional GB/s, largest bytes}.
  // `shaped`: the link may pass a shaper (across nodes), so look for a token bucket; inside a
  // node small copies run from cache faster than large ones, which is no bucket.
  absl::StatusOr<std::tuple<double, double, double, double>> PingPongLead(int peer, bool shaped) {
    std::vector<std::pair<double, double>> samples;
    double largest = 0;
    for (size_t bytes : options_.sizes) {
      TANGRAM_RETURN_IF_ERROR(Control(peer, kPingPong, static_cast<double>(bytes)));
      std::vector<double> one_way;
      for (int r = -1; r < options_.repetitions; ++r) {  // r = -1: warm-up
        TANGRAM_RETURN_IF_ERROR(Pulse(/*done=*/false));
        double start = Now();
        TANGRAM_RETURN_IF_ERROR(
            world_.Send(buffer_.data(), Floats(bytes), DataType::kF32, peer, kDataTag));
        TANGRAM_RETURN_IF_ERROR(
            world_.Recv(buffer_.data(), Floats(bytes), DataType::kF32, peer, kDataTag));
        if (r >= 0) one_way.push_back((Now() - start) / 2);
      }
      // The fastest round trip: the wire's time. What the others add is the scheduler's (a rank
      // woken late on an oversubscribed host), which a receiver that already waits — the
      // common case in training — does not pay per message.
      double t = *std::min_element(one_way.begin(), one_way.end());
      samples.push_back({static_cast<double>(Floats(bytes) * 4), t});
      largest = static_cast<double>(Floats(bytes) * 4);
      // Stop growing past the budget, but not before a size well past a shaper's burst (a
      // token bucket lets its first burst through at line rate): a slow link's β needs one.
      if (2 * t > options_.size_seconds &&
          (bytes >= kMinLargest || 2 * t > 4 * options_.size_seconds))
        break;
    }
    auto [alpha, beta] = FitAlphaBeta(samples);
    // Bidirectional: both send the largest size at once, three times; each direction's rate.
    // Right after the ping-pongs, while the link is busy: after the burst probe's idle gaps the
    // same exchange read 0.0041 instead of 0.0031 GB/s on a 50 Mbit/s tbf link (TCP restarting
    // from idle, a full bucket), and a ring allreduce there ran at the 0.0031.
    TANGRAM_RETURN_IF_ERROR(Control(peer, kExchange, largest));
    std::vector<double> times;
    for (int r = 0; r < 3; ++r) {
      TANGRAM_RETURN_IF_ERROR(Pulse(/*done=*/false));
      TANGRAM_ASSIGN_OR_RETURN(double t, Exchange(peer, static_cast<size_t>(largest)));
      times.push_back(t);
    }
    burst_ = {};
    if (shaped && options_.burst && !world_.VirtualSeconds().has_value() && beta > 0) {
      TANGRAM_ASSIGN_OR_RETURN(auto fit, Burst(peer, beta, largest));
      if (fit) burst_ = *fit;
    }
    TANGRAM_RETURN_IF_ERROR(Control(peer, kEnd, 0));
    double t = Median(times) - alpha;
    double bidir = t > 0 ? largest / t / 1e9 : 0;
    return std::make_tuple(alpha, beta, bidir, largest);
  }

  // Step 1b on the lead: one-way sends after idle gaps, the fastest of a few per size.
  absl::StatusOr<std::optional<BurstFit>> Burst(int peer, double beta, double largest) {
    std::vector<std::pair<double, double>> samples;
    const double last = std::min(static_cast<double>(kBurstLargest), largest);
    for (size_t bytes = kBurstSmallest; static_cast<double>(bytes) <= last; bytes *= 2) {
      TANGRAM_RETURN_IF_ERROR(Control(peer, kOneWay, static_cast<double>(bytes)));
      // Idle long enough for the link to refill whatever the previous send took from a bucket.
      const double gap = 2 * static_cast<double>(bytes) * beta + 1e-3;
      double fastest = 0;
      for (int r = 0; r < options_.burst_repetitions; ++r) {
        TANGRAM_RETURN_IF_ERROR(Pulse(/*done=*/false));
        absl::SleepFor(absl::Seconds(gap));
        double start = Now();
        TANGRAM_RETURN_IF_ERROR(
            world_.Send(buffer_.data(), Floats(bytes), DataType::kF32, peer, kDataTag));
        TANGRAM_RETURN_IF_ERROR(world_.Recv(buffer_.data(), 1, DataType::kF32, peer, kDataTag));
        double t = Now() - start;  // with the acknowledgement's way back (FitBurst's fixed cost)
        if (r == 0 || t < fastest) fastest = t;
      }
      samples.push_back({static_cast<double>(Floats(bytes) * 4), fastest});
    }
    return FitBurst(samples, beta);
  }

  absl::Status PingPongFollow(int peer) {
    for (;;) {
      double control[2] = {0, 0};
      TANGRAM_RETURN_IF_ERROR(world_.Recv(control, 2, DataType::kF64, peer, kControlTag));
      const int op = static_cast<int>(control[0]);
      const size_t bytes = static_cast<size_t>(control[1]);
      if (op == kEnd) return absl::OkStatus();
      if (op == kExchange) {
        for (int r = 0; r < 3; ++r) TANGRAM_RETURN_IF_ERROR(Exchange(peer, bytes).status());
        continue;
      }
      if (op == kOneWay) {
        for (int r = 0; r < options_.burst_repetitions; ++r) {
          TANGRAM_RETURN_IF_ERROR(
              world_.Recv(buffer_.data(), Floats(bytes), DataType::kF32, peer, kDataTag));
          TANGRAM_RETURN_IF_ERROR(world_.Send(buffer_.data(), 1, DataType::kF32, peer, kDataTag));
        }
        continue;
      }
      size_t n = Floats(bytes);
      for (int r = -1; r < options_.repetitions; ++r) {
        TANGRAM_RETURN_IF_ERROR(world_.Recv(buffer_.data(), n, DataType::kF32, peer, kDataTag));
        TANGRAM_RETURN_IF_ERROR(world_.Send(buffer_.data(), n, DataType::kF32, peer, kDataTag));
      }
    }
  }

  absl::Status Control(int peer, Op op, double bytes) {
    double control[2] = {static_cast<double>(op), bytes};
    return world_.Send(control, 2, DataType::kF64, peer, kControlTag);
  }

  // Sends and receives `bytes` to and from `peer` at once; the seconds until both are done.
  absl::StatusOr<double> Exchange(int peer, size_t bytes) {
    size_t n = Floats(bytes);
    double start = Now();
    TANGRAM_ASSIGN_OR_RETURN(auto recv,
                             world_.IRecv(buffer_.data() + n, n, DataType::kF32, peer, kDataTag));
    TANGRAM_ASSIGN_OR_RETURN(auto send,
                             world_.ISend(buffer_.data(), n, DataType::kF32, peer, kDataTag));
    TANGRAM_RETURN_IF_ERROR(send->Wait());
    TANGRAM_RETURN_IF_ERROR(recv->Wait());
    return Now() - start;
  }

  // Concurrent sends from every rank of the most populated node to distinct ranks elsewhere.
  absl::StatusOr<std::optional<partitioner::MeasuredNic>> Nic() {
    std::map<std::string, std::vector<int>> by_host;
    for (size_t r = 0; r < places_.size(); ++r) by_host[places_[r].host].push_back(int(r));
    std::string node;
    for (const auto& [host, ranks] : by_host) {
      if (node.empty() || ranks.size() > by_host[node].size()) node = host;
    }
    std::vector<int> senders = by_host[node], receivers;
    for (size_t r = 0; r < places_.size(); ++r) {
      if (places_[r].host != node) receivers.push_back(int(r));
    }
    // Prefer receivers in the senders' island (the NIC, not the inter-island link, is measured).
    std::stable_sort(receivers.begin(), receivers.end(), [&](int x, int y) {
      return (places_[x].island != places_[senders[0]].island) <
             (places_[y].island != places_[senders[0]].island);
    });
    size_t k = std::min(senders.size(), receivers.size());
    if (k < 2) return std::optional<partitioner::MeasuredNic>();
    LinkClass c = ClassOf(places_[senders[0]], places_[receivers[0]]);
    auto fit = fits_.find(c);
    if (fit == fits_.end()) return std::optional<partitioner::MeasuredNic>();
    const auto [alpha, beta, largest] = fit->second;
    size_t bytes = static_cast<size_t>(largest);
    double mine = 0;
    std::vector<double> times;
    for (int r = 0; r < 3; ++r) {
      TANGRAM_RETURN_IF_ERROR(world_.Barrier());
      double start = Now();
      for (size_t i = 0; i < k; ++i) {
        if (world_.rank() == senders[i]) {
          TANGRAM_RETURN_IF_ERROR(
              world_.Send(buffer_.data(), Floats(bytes), DataType::kF32, receivers[i], kDataTag));
        } else if (world_.rank() == receivers[i]) {
          TANGRAM_RETURN_IF_ERROR(
              world_.Recv(buffer_.data(), Floats(bytes), DataType::kF32, senders[i], kDataTag));
        }
      }
      mine = Now() - start;
      double slowest = 0;
      TANGRAM_RETURN_IF_ERROR(
          world_.AllReduce(&mine, &slowest, 1, DataType::kF64, collectives::ReduceOp::kMax));
      times.push_back(slowest);
    }
    double t = Median(times) - alpha;
    if (!(t > 0)) return std::optional<partitioner::MeasuredNic>();
    partitioner::MeasuredNic nic;
    nic.node = node;
    nic.senders = static_cast<int>(k);
    nic.aggregate_gbs = static_cast<double>(k) * Floats(bytes) * 4 / t / 1e9;
    return std::optional<partitioner::MeasuredNic>(nic);
  }

  // Step 3b (link_probe.h): every pair of hosts, its class's figure scaled by its rate ÷ the
  // class's representative pair's.
  absl::StatusOr<std::vector<partitioner::MeasuredHostLink>> HostLinks(
      const std::vector<partitioner::MeasuredLink>& links) {
    std::vector<partitioner::MeasuredHostLink> out;
    const std::vector<int> first = FirstRankOfEachHost(places_);
    const int hosts = static_cast<int>(first.size());
    if (hosts < 3) return out;
    const std::vector<std::pair<int, int>> pairs = HostPairRounds(hosts, kMaxHostRounds);
    // rates[i]: pair i's bytes ÷ (fastest send − 2α), set by its sender; the others' 0.
    std::vector<double> rates(pairs.size(), 0), all(pairs.size(), 0);
    for (size_t begin = 0; begin < pairs.size();) {
      size_t end = begin;  // one round: pairs up to the first one that reuses a host
      std::vector<bool> busy(hosts, false);
      while (end < pairs.size() && !busy[pairs[end].first] && !busy[pairs[end].second]) {
        busy[pairs[end].first] = busy[pairs[end].second] = true;
        ++end;
      }
      TANGRAM_RETURN_IF_ERROR(TimeHostRound(pairs, begin, end, first, &rates));
      begin = end;
    }
    // Every pair's figure is divided by its class's representative pair's rate: one slow reading
    // of that pair (a scheduler delay on an oversubscribed host) would inflate them all (seen on
    // namespace hosts: 0.166 GB/s read for a 300 Mbit/s pair). It is timed once more, alone.
    std::map<LinkClass, size_t> representative;  // class -> its representative pair in `pairs`
    for (const partitioner::MeasuredLink& link : links) {
      if (link.link_class == LinkClass::kSameNode) continue;
      const auto [ra, rb] = PairOf(places_, link.link_class);
      for (size_t i = 0; i < pairs.size(); ++i) {
        if (places_[first[pairs[i].first]].host == places_[ra].host &&
            places_[first[pairs[i].second]].host == places_[rb].host) {
          representative[link.link_class] = i;
        }
      }
    }
    for (const auto& [cls, i] : representative) {
      TANGRAM_RETURN_IF_ERROR(TimeHostRound(pairs, i, i + 1, first, &rates));
    }
    TANGRAM_RETURN_IF_ERROR(world_.AllReduce(rates.data(), all.data(), all.size(), DataType::kF64,
                                             collectives::ReduceOp::kMax));
    for (const partitioner::MeasuredLink& link : links) {
      if (link.link_class == LinkClass::kSameNode) continue;
      std::vector<double> of_class;
      for (size_t i = 0; i < pairs.size(); ++i) {
        const int a = first[pairs[i].first], b = first[pairs[i].second];
        if (ClassOf(places_[a], places_[b]) == link.link_class && all[i] > 0) {
          of_class.push_back(all[i]);
        }
      }
      auto rep = representative.find(link.link_class);
      double reference = rep == representative.end() ? 0 : all[rep->second];
      if (of_class.empty()) continue;
      if (!(reference > 0)) reference = Median(of_class);
      for (size_t i = 0; i < pairs.size(); ++i) {
        const int a = first[pairs[i].first], b = first[pairs[i].second];
        if (ClassOf(places_[a], places_[b]) != link.link_class || !(all[i] > 0)) continue;
        out.push_back({places_[a].host, places_[b].host, link.bandwidth_gbs * all[i] / reference});
      }
    }
    return out;
  }

  // Step 3c (fanout_probe.h), at step 3b's size for the trio's class.
  absl::StatusOr<std::optional<partitioner::MeasuredFanout>> Fanout(
      const std::vector<partitioner::MeasuredHostLink>& host_links) {
    const std::optional<std::array<int, 3>> trio = FanoutTrio(places_, host_links);
    if (!trio) return std::optional<partitioner::MeasuredFanout>();
    auto fit = fits_.find(ClassOf(places_[(*trio)[0]], places_[(*trio)[1]]));
    if (fit == fits_.end()) return std::optional<partitioner::MeasuredFanout>();
    const auto [alpha, beta, largest] = fit->second;
    const size_t bytes = std::min(static_cast<size_t>(largest), kMinLargest);
    TANGRAM_ASSIGN_OR_RETURN(partitioner::MeasuredFanout fanout,
                             ProbeFanout(world_, places_, *trio, bytes, alpha, clock_));
    return std::optional<partitioner::MeasuredFanout>(fanout);
  }

  // One round of step 3b: pairs [begin, end) of `pairs` (host indices into `first`) at once.
  absl::Status TimeHostRound(const std::vector<std::pair<int, int>>& pairs, size_t begin,
                             size_t end, const std::vector<int>& first,
                             std::vector<double>* rates) {
    for (int rep = 0; rep < 2; ++rep) {
      TANGRAM_RETURN_IF_ERROR(world_.Barrier());
      for (size_t i = begin; i < end; ++i) {
        const int a = first[pairs[i].first], b = first[pairs[i].second];
        if (world_.rank() != a && world_.rank() != b) continue;
        auto fit = fits_.find(ClassOf(places_[a], places_[b]));
        if (fit == fits_.end()) continue;
        const auto [alpha, beta, largest] = fit->second;
        // At most 512 KiB: past a shaper's burst, and every pair sends the same size, so the
        // ratio to the class's pair keeps; the class's largest (up to 2 MiB) took 1.7 s a send on
        // a 10 Mbit/s host (+7 s of probe at 3 hosts).
        const size_t n = Floats(std::min(static_cast<size_t>(largest), kMinLargest));
        if (world_.rank() == b) {
          TANGRAM_RETURN_IF_ERROR(world_.Recv(buffer_.data(), n, DataType::kF32, a, kDataTag));
          TANGRAM_RETURN_IF_ERROR(world_.Send(buffer_.data(), 1, DataType::kF32, a, kDataTag));
          continue;
        }
        const double start = Now();
        TANGRAM_RETURN_IF_ERROR(world_.Send(buffer_.data(), n, DataType::kF32, b, kDataTag));
        TANGRAM_RETURN_IF_ERROR(world_.Recv(buffer_.data(), 1, DataType::kF32, b, kDataTag));
        const double t = Now() - start - 2 * alpha;
        const double rate = t > 0 ? static_cast<double>(n * 4) / t : 0;
        (*rates)[i] = std::max((*rates)[i], rate);
      }
    }
    return absl::OkStatus();
  }

  // The comm model's ring (partitioner/comm_model.h) over `q` ranks at a fitted α (s) and β
  // (s per byte).
  static double RingSeconds(int q, double bytes, double alpha, double beta) {
    return partitioner::RingAllreduceTime(q, bytes, 1e-9 / beta, alpha);
  }

  // Ring allreduce over the world at the configured sizes that fit the time budget.
  absl::StatusOr<std::vector<partitioner::AllreduceSample>> Allreduce() {
    std::vector<partitioner::AllreduceSample> out;
    const int q = world_.size();
    if (q < 2) return out;
    // The slowest measured link bounds a flat ring.
    double alpha = 0, beta = 0;
    for (const auto& [c, f] : fits_) {
      alpha = std::max(alpha, std::get<0>(f));
      beta = std::max(beta, std::get<1>(f));
    }
    CallOptions ring;
    ring.algorithm = collectives::Algorithm::kRing;
    for (size_t bytes : options_.allreduce_bytes) {
      double predicted = RingSeconds(q, static_cast<double>(bytes), alpha, beta);
      if (predicted > options_.size_seconds && !out.empty()) break;
      std::vector<double> times;
      for (int r = 0; r < 3; ++r) {
        TANGRAM_RETURN_IF_ERROR(world_.Barrier());
        double start = Now();
        TANGRAM_RETURN_IF_ERROR(world_.AllReduce(buffer_.data(), buffer_.data(), Floats(bytes),
                                                 DataType::kF32, collectives::ReduceOp::kMax,
                                                 ring));
        double mine = Now() - start, slowest = 0;
        TANGRAM_RETURN_IF_ERROR(
            world_.AllReduce(&mine, &slowest, 1, DataType::kF64, collectives::ReduceOp::kMax));
        times.push_back(slowest);
      }
      out.push_back({static_cast<double>(Floats(bytes) * 4), Median(times)});
    }
    return out;
  }

  // The slowest class the world spans across nodes: {class, α, β}; nullopt when every rank is on
  // one node (or nothing was fitted).
  std::optional<std::tuple<LinkClass, double, double>> SlowestAcrossNodes() const {
    std::optional<std::tuple<LinkClass, double, double>> out;
    for (const auto& [c, f] : fits_) {
      if (c == LinkClass::kSameNode || (out && std::get<1>(f) <= std::get<2>(*out))) continue;
      out = std::make_tuple(c, std::get<0>(f), std::get<1>(f));
    }
    if (out && !(std::get<2>(*out) > 0)) return std::nullopt;
    return out;
  }

  // The gradient's size, less where a ring of `q` at the one-way rate would pass the time bound:
  // the collective's bandwidth part grows with its bytes, and what it is per byte is the figure.
  size_t CollectiveBytes(int q, double alpha, double beta) const {
    size_t bytes = options_.gradient_bytes;
    if (bytes == 0) {
      for (size_t s : options_.allreduce_bytes) bytes = std::max(bytes, s);
    }
    const double fits =
        (options_.collective_seconds - RingSeconds(q, 0, alpha, beta)) / RingSeconds(q, 1, 0, beta);
    if (fits < static_cast<double>(bytes)) {
      bytes = std::min(bytes, std::max(kMinCollective, static_cast<size_t>(std::max(fits, 0.0))));
    }
    return bytes;
  }

  // Training's call (pipeline_step.cc, AllReduceGradients: in place, a sum, the communicator's
  // default options) on `comm` by its members (nullptr: this rank only waits), every communicator
  // at once: all ranks of the world start each repetition together. One untimed run and
  // `collective_repetitions` timed, each the slowest rank's time; the median. A virtual clock
  // gives every repetition the same time: one, and no warm-up (64 simulated ranks spent 3 s of
  // wall time on six).
  absl::StatusOr<double> TimeCollective(Communicator* comm, size_t count) {
    std::vector<float> data(comm != nullptr ? count : 0, 1.0f);
    const bool virtual_clock = world_.VirtualSeconds().has_value();
    const int repetitions = virtual_clock ? 1 : options_.collective_repetitions;
    std::vector<double> times;
    for (int r = virtual_clock ? 0 : -1; r < repetitions; ++r) {  // r = -1: untimed
      TANGRAM_RETURN_IF_ERROR(world_.Barrier());
      double mine = 0, slowest_rank = 0;
      if (comm != nullptr) {
        const double start = Now();
        TANGRAM_RETURN_IF_ERROR(comm->AllReduce(data.data(), data.data(), count, DataType::kF32,
                                                collectives::ReduceOp::kSum));
        mine = Now() - start;
        std::fill(data.begin(), data.end(), 1.0f);
      }
      TANGRAM_RETURN_IF_ERROR(
          world_.AllReduce(&mine, &slowest_rank, 1, DataType::kF64, collectives::ReduceOp::kMax));
      if (r >= 0) times.push_back(slowest_rank);
    }
    return Median(times);
  }

  // The per-direction rate at which a ring of `q` at one-way β takes `seconds` for `bytes` (less
  // its 2(q−1)α), never above the one-way rate; nullopt when the time is all latency.
  static std::optional<double> RingRate(int q, double bytes, double seconds, double alpha,
                                        double beta) {
    const double per_byte = (seconds - RingSeconds(q, 0, alpha, beta)) / bytes;
    if (!(per_byte > 0)) return std::nullopt;
    return std::min(1.0, RingSeconds(q, 1, 0, beta) / per_byte) * 1e-9 / beta;
  }

  // Step 5: the allreduce training runs, timed over every rank; sets allreduce_gbs on the slowest
  // class that the world spans across nodes (nothing when every rank is on one node).
  absl::Status GradientAllreduce(LinkProbeResult* result) {
    const int q = world_.size();
    const auto slowest = SlowestAcrossNodes();
    if (q < 2 || !slowest) return absl::OkStatus();
    const auto [cls, alpha, beta] = *slowest;
    const size_t count = Floats(CollectiveBytes(q, alpha, beta));
    TANGRAM_ASSIGN_OR_RETURN(const double t, TimeCollective(&world_, count));
    if (!(t > 0)) return absl::OkStatus();
    const double n = static_cast<double>(count * 4);
    result->gradient_allreduce = partitioner::AllreduceSample{n, t};
    const std::optional<double> gbs = RingRate(q, n, t, alpha, beta);
    for (auto& link : result->links) {
      if (link.link_class == cls && gbs) link.allreduce_gbs = *gbs;
    }
    return absl::OkStatus();
  }

  // Step 5b: the same call over pairs of ranks across the slowest class's representative pair
  // of hosts: the i-th rank of one host with the i-th of the other, every pair at once (the
  // others wait), as the data-parallel groups of two of a tensor- or pipeline-parallel layout
  // run. A ring of two is an exchange, both directions on one connection, where a ring of three
  // or more sends to one peer and receives from another, and a group of two runs libnbc's
  // binomial (mpi_communicator.cc), one whole buffer each way in turn (measured on namespace hosts
  // at 20 Mbit/s to 1 Gbit/s: 0.91-0.96 of one way for the world's ring, 0.51-0.58 for two pairs
  // together; docs/probe.md). Sets pair_allreduce_gbs: the pairs' bytes per second per direction
  // together, what the host's NIC carries. Skipped when the world is one pair (step 5 timed it).
  absl::Status PairAllreduce(LinkProbeResult* result) {
    const auto slowest = SlowestAcrossNodes();
    if (world_.size() <= 2 || !slowest) return absl::OkStatus();
    const auto [cls, alpha, beta] = *slowest;
    const auto [a, b] = PairOf(places_, cls);
    if (a < 0) return absl::OkStatus();
    std::vector<int> on_a, on_b;
    for (int r = 0; r < world_.size(); ++r) {
      if (places_[r].host == places_[a].host) on_a.push_back(r);
      if (places_[r].host == places_[b].host) on_b.push_back(r);
    }
    const int pairs = static_cast<int>(std::min(on_a.size(), on_b.size()));
    int color = pairs;  // the bystanders' communicator, unused
    for (int i = 0; i < pairs; ++i) {
      if (world_.rank() == on_a[i] || world_.rank() == on_b[i]) color = i;
    }
    TANGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> pair,
                             world_.Split(color, world_.rank()));
    const size_t count = Floats(CollectiveBytes(2, alpha, beta));
    TANGRAM_ASSIGN_OR_RETURN(const double t,
                             TimeCollective(color < pairs ? pair.get() : nullptr, count));
    if (!(t > 0)) return absl::OkStatus();
    const double n = static_cast<double>(count * 4);
    result->pair_allreduce = partitioner::AllreduceSample{n, t};
    result->pair_allreduce_pairs = pairs;
    const std::optional<double> gbs = RingRate(2, n, t, alpha, beta);  // each pair's
    for (auto& link : result->links) {
      if (link.link_class == cls && gbs) link.pair_allreduce_gbs = *gbs * pairs;
    }
    return absl::OkStatus();
  }

  Communicator& world_;
  const std::vector<RankPlace>& places_;
  const LinkProbeOptions& options_;
  std::function<double()> clock_;
  std::vector<float> buffer_;
  std::map<LinkClass, std::tuple<double, double, double>> fits_;  // α, β, largest bytes
  BurstFit burst_;                     // the last pair's token bucket (zeros: none)
  std::optional<PulseSender> pulses_;  // the lead's, to the pair's bystanders
};

}  // namespace

std::pair<double, double> WeightedFit(const std::vector<std::pair<double, double>>& samples);

partitioner::LinkClass ClassOf(const RankPlace& a, const RankPlace& b) {
  if (a.host == b.host) return LinkClass::kSameNode;
  if (a.island == b.island) return LinkClass::kSameIsland;
  return LinkClass::kCrossIsland;
}

std::vector<int> FirstRankOfEachHost(const std::vector<RankPlace>& places) {
  std::vector<int> first;
  for (size_t r = 0; r < places.size(); ++r) {
    if (std::none_of(first.begin(), first.end(),
                     [&](int f) { return places[f].host == places[r].host; })) {
      first.push_back(static_cast<int>(r));
    }
  }
  return first;
}

std::vector<std::string> DescribeLinks(const std::vector<partitioner::MeasuredLink>& links,
                                       const std::optional<partitioner::MeasuredNic>& nic,
                                       const std::vector<partitioner::MeasuredHostLink>& host_links,
                                       const std::optional<partitioner::MeasuredFanout>& fanout) {
  std::vector<std::string> out;
  for (const auto& l : links) {
    out.push_back(absl::StrFormat(
        "link %s: latency %.1f us, %.4g GB/s (ranks %s)%s%s%s",
        partitioner::LinkClassName(l.link_class), l.latency_us, l.bandwidth_gbs, l.pair,
        l.allreduce_gbs ? absl::StrFormat("; %.4g GB/s each way in training's gradient allreduce",
                                          *l.allreduce_gbs)
                        : "",
        l.pair_allreduce_gbs ? absl::StrFormat(" (%.4g over pairs of ranks)", *l.pair_allreduce_gbs)
                             : "",
        l.collective_us
            ? absl::StrFormat("; one tp allreduce in training conditions %.0f us", *l.collective_us)
            : ""));
  }
  if (nic) {
    out.push_back(absl::StrFormat("nic: %d ranks of %s at once: %.4g GB/s together", nic->senders,
                                  nic->node, nic->aggregate_gbs));
  }
  for (const auto& l : host_links) {
    out.push_back(absl::StrFormat("hosts %s-%s: %.4g GB/s one way", l.a, l.b, l.bandwidth_gbs));
  }
  if (fanout) {
    out.push_back(absl::StrFormat(
        "fanout: a rank of %s sending to %d other hosts at once: %.2f links' worth (1: one port "
        "they share; %d: a link each)",
        fanout->node, fanout->peers, fanout->links, fanout->peers));
  }
  return out;
}

std::pair<double, double> FitAlphaBeta(const std::vector<std::pair<double, double>>& samples) {
  // β from the sizes of 128 KiB and more when there are two: below that, a token-bucket shaper
  // (tc tbf, switch buffers) passes whole messages in its burst, which a fit over every size
  // would read as bandwidth. α is then what the smallest size leaves over its bytes.
  std::vector<std::pair<double, double>> large;
  for (const auto& s : samples) {
    if (s.first >= 128 << 10 && s.second > 0) large.push_back(s);
  }
  if (large.size() >= 2 && samples.size() > large.size()) {
    double mn = 0, mt = 0;
    for (const auto& [n, t] : large) {
      mn += n / large.size();
      mt += t / large.size();
    }
    double cov = 0, var = 0;
    for (const auto& [n, t] : large) {
      cov += (n - mn) * (t - mt);
      var += (n - mn) * (n - mn);
    }
    double beta = var > 0 ? cov / var : 0;
    if (beta > 0) {
      const auto& smallest = samples.front();
      return {std::max(0.0, smallest.second - smallest.first * beta), beta};
    }
  }
  return WeightedFit(samples);
}

std::optional<BurstFit> FitBurst(const std::vector<std::pair<double, double>>& samples,
                                 double beta) {
  if (samples.size() < 3 || !(beta > 0)) return std::nullopt;
  // The two smallest sizes pass in the bucket when there is one: their slope is 1/p, and what
  // they leave is the fixed cost of a send and its acknowledgement (α, and on a loaded host the
  // scheduler's share of it, which then cancels out of the savings).
  const auto& [n0, t0] = samples[0];
  const auto& [n1, t1] = samples[1];
  const double inv_peak = std::max(beta / 1000, (t1 - t0) / (n1 - n0));
  if (!(inv_peak * 4 <= beta * 3)) return std::nullopt;  // peak under 4/3 of sustained: none
  const double fixed = std::min(t0 - n0 * inv_peak, t1 - n1 * inv_peak);
  double saved = 0;
  for (const auto& [n, t] : samples) saved = std::max(saved, fixed + n * beta - t);
  // The fixed cost is the scale of the timer's and the scheduler's noise on one send: a saving
  // no larger than it is not told from noise (at 10 Gbit/s small sends that came out slow read
  // as a 44 KB bucket at the peak's 1000x clamp).
  if (!(saved > fixed)) return std::nullopt;
  const double burst = std::round(saved / (beta - inv_peak));
  if (!(burst >= 4096) || !(samples.back().first > burst)) return std::nullopt;
  return BurstFit{burst, 1e-9 / inv_peak};
}

std::pair<double, double> WeightedFit(const std::vector<std::pair<double, double>>& samples) {
  // Minimise Σ w (α + β n − t)², w = 1/t²: the normal equations of a 2-parameter fit.
  double sw = 0, sn = 0, snn = 0, st = 0, snt = 0;
  for (const auto& [n, t] : samples) {
    if (!(t > 0)) continue;
    double w = 1 / (t * t);
    sw += w;
    sn += w * n;
    snn += w * n * n;
    st += w * t;
    snt += w * n * t;
  }
  double det = sw * snn - sn * sn;
  if (!(sw > 0) || std::abs(det) <= 1e-12 * sw * snn) {
    // One size (or none timed): all time is latency.
    return {sw > 0 ? st / sw : 0, 0};
  }
  double beta = (sw * snt - sn * st) / det;
  double alpha = (st - beta * sn) / sw;
  if (alpha < 0) {
    // Latency below resolution: refit through the origin.
    alpha = 0;
    beta = snn > 0 ? snt / snn : 0;
  }
  return {alpha, std::max(beta, 0.0)};
}

absl::StatusOr<LinkProbeResult> ProbeLinks(collectives::Communicator& world,
                                           const std::vector<RankPlace>& places,
                                           const LinkProbeOptions& options) {
  if (static_cast<int>(places.size()) != world.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("link probe: ", places.size(), " places for ", world.size(), " ranks"));
  }
  Prober prober(world, places, options);
  return prober.Run();
}

}  // namespace tangram::orchestrator
