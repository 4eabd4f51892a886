#include "collectives/link_model.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {

LinkModel LinkModel::Uniform(int ranks, LinkCost cost) {
  LinkModel model;
  model.ranks_ = ranks;
  model.costs_ = {cost};
  model.index_.assign(static_cast<size_t>(ranks) * ranks, 0);
  model.node_of_.resize(ranks);
  std::iota(model.node_of_.begin(), model.node_of_.end(), 0);
  model.island_of_.assign(ranks, 0);
  return model;
}

absl::StatusOr<LinkModel> LinkModel::Hierarchical(const std::vector<int>& node_of,
                                                  const std::vector<int>& island_of,
                                                  LinkCost same_node, LinkCost same_island,
                                                  LinkCost across_islands) {
  if (node_of.empty() || node_of.size() != island_of.size()) {
    return absl::InvalidArgumentError(absl::StrCat("LinkModel::Hierarchical: ", node_of.size(),
                                                   " node ids but ", island_of.size(),
                                                   " island ids (need equal, non-zero counts)"));
  }
  std::map<int, int> island_of_node;
  for (size_t r = 0; r < node_of.size(); ++r) {
    auto [it, inserted] = island_of_node.emplace(node_of[r], island_of[r]);
    if (!inserted && it->second != island_of[r]) {
      return absl::InvalidArgumentError(absl::StrCat("LinkModel::Hierarchical: node ", node_of[r],
                                                     " is in islands ", it->second, " and ",
                                                     island_of[r]));
    }
  }
  LinkModel model;
  model.ranks_ = static_cast<int>(node_of.size());
  model.costs_ = {same_node, same_island, across_islands};
  model.index_.resize(node_of.size() * node_of.size());
  for (size_t s = 0; s < node_of.size(); ++s) {
    for (size_t d = 0; d < node_of.size(); ++d) {
      model.index_[s * node_of.size() + d] = node_of[s] == node_of[d]       ? 0
                                             : island_of[s] == island_of[d] ? 1
                                                                            : 2;
    }
  }
  model.node_of_ = node_of;
  model.island_of_ = island_of;
  return model;
}

LinkCost LinkModel::Slowest() const {
  LinkCost worst;
  bool infinite = true;
  for (const LinkCost& c : costs_) {
    worst.alpha_s = std::max(worst.alpha_s, c.alpha_s);
    if (c.bandwidth_Bps > 0 && (infinite || c.bandwidth_Bps < worst.bandwidth_Bps)) {
      worst.bandwidth_Bps = c.bandwidth_Bps;
      infinite = false;
    }
  }
  return worst;
}

LinkCost LinkModel::Link(int src, int dst) const {
  if (src == dst || src < 0 || dst < 0 || src >= ranks_ || dst >= ranks_) return LinkCost{};
  return costs_[index_[static_cast<size_t>(src) * ranks_ + dst]];
}

void LinkModel::Set(int src, int dst, LinkCost cost) {
  if (src < 0 || dst < 0 || src >= ranks_ || dst >= ranks_) return;
  size_t i = 0;
  while (i < costs_.size() &&
         (costs_[i].alpha_s != cost.alpha_s || costs_[i].bandwidth_Bps != cost.bandwidth_Bps)) {
    ++i;
  }
  if (i == costs_.size()) {
    if (costs_.size() >= 65535) return;  // more distinct links than the index can name
    costs_.push_back(cost);
  }
  index_[static_cast<size_t>(src) * ranks_ + dst] = static_cast<uint16_t>(i);
}

}  // namespace tangram::collectives
