#include "orchestrator/model/stage.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tangram::train {

void ZeroGradients(Layer& layer) {
  for (Tensor* g : layer.gradients()) std::fill(g->data.begin(), g->data.end(), 0.0f);
}

Tensor LossGradient(int64_t samples, int64_t global_batch) {
  Tensor t = Tensor::Zeros("loss_grad", {1});
  t.data[0] = static_cast<float>(static_cast<double>(samples) / static_cast<double>(global_batch));
  return t;
}

Stage::Stage(std::vector<std::unique_ptr<Layer>> layers) : layers_(std::move(layers)) {
  for (auto& layer : layers_) optimizer_.push_back(NewAdamState(*layer));
}

std::vector<std::string> Stage::layer_names() const {
  std::vector<std::string> names;
  for (const auto& layer : layers_) names.push_back(layer->name());
  return names;
}

absl::StatusOr<Tensor> Stage::Forward(const MicroBatch& mb, const Tensor& input) {
  Tensor x = input;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i > 0 && between_layers_) between_layers_();
    absl::StatusOr<Tensor> y = layers_[i]->Forward(mb, x);
    if (!y.ok()) {
      for (size_t j = 0; j < i; ++j) layers_[j]->Discard(mb.id);
      return y.status();
    }
    x = std::move(*y);
  }
  return x;
}

absl::StatusOr<Tensor> Stage::Backward(int64_t id, const Tensor& grad_output) {
  Tensor g = grad_output;
  for (size_t i = layers_.size(); i-- > 0;) {
    if (i + 1 < layers_.size() && between_layers_) between_layers_();
    absl::StatusOr<Tensor> dx = layers_[i]->Backward(id, g);
    if (!dx.ok()) {
      for (size_t j = 0; j < i; ++j) layers_[j]->Discard(id);
      return dx.status();
    }
    g = std::move(*dx);
  }
  return g;
}

void Stage::Discard(int64_t id) {
  for (auto& layer : layers_) layer->Discard(id);
}

void Stage::ZeroGradients() {
  for (auto& layer : layers_) train::ZeroGradients(*layer);
}

int64_t Stage::gradient_size() {
  int64_t n = 0;
  for (auto& layer : layers_) {
    for (const Tensor* g : layer->gradients()) n += g->size();
  }
  return n;
}

void Stage::CopyGradients(std::vector<float>* flat) {
  flat->clear();
  flat->reserve(static_cast<size_t>(gradient_size()));
  for (auto& layer : layers_) {
    for (const Tensor* g : layer->gradients()) {
      flat->insert(flat->end(), g->data.begin(), g->data.end());
    }
  }
}

absl::Status Stage::SetGradients(absl::Span<const float> flat) {
  if (static_cast<int64_t>(flat.size()) != gradient_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("stage has ", gradient_size(), " gradient values, got ", flat.size()));
  }
  size_t offset = 0;
  for (auto& layer : layers_) {
    for (Tensor* g : layer->gradients()) {
      std::copy(flat.begin() + offset, flat.begin() + offset + g->data.size(), g->data.begin());
      offset += g->data.size();
    }
  }
  return absl::OkStatus();
}

absl::Status Stage::Step(const AdamWOptions& options) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (absl::Status s = AdamWStep(options, *layers_[i], optimizer_[i]); !s.ok()) return s;
  }
  return absl::OkStatus();
}

LayerState Stage::ExportLayer(int64_t i) { return ExportLayerState(*layers_[i], optimizer_[i]); }

absl::Status Stage::ImportLayer(const LayerState& state) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i]->name() == state.layer) {
      return ImportLayerState(state, *layers_[i], &optimizer_[i]);
    }
  }
  return absl::NotFoundError(absl::StrCat("no layer ", state.layer, " in this stage"));
}

}  // namespace tangram::train
