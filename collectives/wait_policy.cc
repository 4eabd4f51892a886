#include "collectives/wait_policy.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {
namespace {

std::atomic<int8_t> g_policy{static_cast<int8_t>(WaitPolicy::kSpin)};

}  // namespace

const char* WaitPolicyName(WaitPolicy p) {
  switch (p) {
    case WaitPolicy::kSpin:
      return "spin";
    case WaitPolicy::kYield:
      return "yield";
  }
  return "spin";
}

std::optional<WaitPolicy> ParseWaitPolicy(absl::string_view text, std::string* error) {
  if (error != nullptr) error->clear();
  if (text == "spin") return WaitPolicy::kSpin;
  if (text == "yield") return WaitPolicy::kYield;
  if (text.empty() || text == "auto") return std::nullopt;
  if (error != nullptr) {
    *error = absl::StrCat("TANGRAM_MPI_WAIT: unknown wait policy '", text,
                          "' (expected spin, yield or auto)");
  }
  return std::nullopt;
}

RankMachine DescribeRankMachine() {
  RankMachine m;
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (in >> id) m.machine = id.substr(0, 8);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) m.cpus.push_back(c);
    }
  }
  return m;
}

bool Oversubscribed(const std::vector<RankMachine>& ranks, int rank) {
  if (rank < 0 || rank >= static_cast<int>(ranks.size())) return false;
  const std::string& mine = ranks[static_cast<size_t>(rank)].machine;
  if (mine.empty()) return false;  // unknown machine: it shares nothing we can see
  size_t sharing = 0;
  std::set<int> cpus;
  for (const RankMachine& r : ranks) {
    if (r.machine != mine) continue;
    ++sharing;
    cpus.insert(r.cpus.begin(), r.cpus.end());
  }
  return sharing > std::max<size_t>(cpus.size(), 1);
}

absl::Duration TestBeforeNapping(WaitPolicy p) {
  return p == WaitPolicy::kYield ? absl::Microseconds(200) : absl::Milliseconds(10);
}

WaitPolicy ChoosePolicy(const std::vector<RankMachine>& ranks, int rank) {
  return Oversubscribed(ranks, rank) ? WaitPolicy::kYield : WaitPolicy::kSpin;
}

WaitPolicy CurrentWaitPolicy() {
  return static_cast<WaitPolicy>(g_policy.load(std::memory_order_relaxed));
}

void SetWaitPolicy(WaitPolicy p) {
  g_policy.store(static_cast<int8_t>(p), std::memory_order_relaxed);
}

}  // namespace tangram::collectives
