#include "orchestrator/runtime/resume_check.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tangram::orchestrator {
namespace {

// A long list (a checkpoint of a much larger model) is cut, so that the error stays one line.
constexpr size_t kMaxListed = 6;

std::string Listed(const std::vector<std::string>& items) {
  std::vector<std::string> shown(
      items.begin(), items.begin() + static_cast<long>(std::min(items.size(), kMaxListed)));
  std::string text = absl::StrJoin(shown, ", ");
  if (items.size() > kMaxListed)
    absl::StrAppend(&text, " and ", items.size() - kMaxListed, " more");
  return text;
}

std::string Shape(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The tensors of `state` that differ from those the model expects of its layer, one entry each.
void CompareLayer(const train::LayerState& state, const std::vector<const ExpectedTensor*>& want,
                  std::vector<std::string>* differences) {
  std::map<std::string, const train::Tensor*> have;
  for (const train::Tensor& t : state.params) have[t.name] = &t;
  for (const ExpectedTensor* e : want) {
    auto it = have.find(e->name);
    if (it == have.end()) {
      differences->push_back(absl::StrCat(e->name, " missing"));
    } else if (it->second->shape != e->shape) {
      differences->push_back(absl::StrCat(e->name, " is ", Shape(it->second->shape),
                                          " in the checkpoint, ", Shape(e->shape),
                                          " in the model"));
    }
    if (it != have.end()) have.erase(it);
  }
  for (const auto& [name, tensor] : have) {
    differences->push_back(absl::StrCat(name, " not in the model"));
  }
}

}  // namespace

absl::Status CheckCheckpointFitsModel(const train::Checkpoint& checkpoint, const std::string& dir,
                                      const std::string& model,
                                      const std::vector<ExpectedTensor>& expected) {
  std::vector<std::string> order;  // the model's layers, in order
  std::map<std::string, std::vector<const ExpectedTensor*>> by_layer;
  for (const ExpectedTensor& e : expected) {
    if (by_layer.find(e.layer) == by_layer.end()) order.push_back(e.layer);
    by_layer[e.layer].push_back(&e);
  }
  std::vector<std::string> missing, extra, differences;
  std::set<std::string> stored;
  for (const train::LayerState& state : checkpoint.layers) {
    stored.insert(state.layer);
    auto it = by_layer.find(state.layer);
    if (it == by_layer.end()) {
      extra.push_back(state.layer);
    } else {
      CompareLayer(state, it->second, &differences);
    }
  }
  for (const std::string& layer : order) {
    if (stored.count(layer) == 0) missing.push_back(layer);
  }
  if (missing.empty() && extra.empty() && differences.empty()) return absl::OkStatus();
  std::vector<std::string> what;
  if (!missing.empty()) what.push_back(absl::StrCat("missing layers ", Listed(missing)));
  if (!extra.empty()) what.push_back(absl::StrCat("layers the model lacks ", Listed(extra)));
  if (!differences.empty()) what.push_back(absl::StrCat("tensors differ: ", Listed(differences)));
  return absl::FailedPreconditionError(absl::StrCat(
      "checkpoint ", train::StepDirectory(dir, checkpoint.step), " is not of model ", model, " (",
      order.size(), " layers: ", Listed(order), "): ", absl::StrJoin(what, "; "),
      "; resume from a checkpoint of this job, or train it with the job that wrote it"));
}

}  // namespace tangram::orchestrator
