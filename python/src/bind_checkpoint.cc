// Checkpoints and safetensors for Python: tangram.torch.checkpoint writes each layer's module and
// optimizer state through the C++ writer (orchestrator/model/checkpoint.h), so Python and C++
// checkpoints share one format, one manifest protocol and one strict reader.
//
// A tensor crosses as a tuple (name, dtype, shape, bytes): dtype as safetensors spells it ("F32"),
// bytes little-endian. Copies are made (checkpoints and layer moves are not on the step's hot
// path).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "orchestrator/model/checkpoint.h"
#include "orchestrator/model/safetensors.h"
#include "python/src/errors.h"
#include "python/src/registry.h"

namespace py = pybind11;

namespace tangram::python {
namespace {

using train::SafeTensor;
using train::SafetensorsFile;
using PyTensor = std::tuple<std::string, std::string, std::vector<int64_t>, py::bytes>;

SafetensorsFile ToFile(const std::vector<PyTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  SafetensorsFile file;
  file.metadata = metadata;
  for (const auto& [name, dtype, shape, data] : tensors) {
    file.tensors.push_back(
        SafeTensor{name, ValueOrThrow(train::ParseDtype(dtype)), shape, std::string(data)});
  }
  return file;
}

py::tuple FromFile(const SafetensorsFile& file) {
  py::list tensors;
  for (const SafeTensor& t : file.tensors) {
    tensors.append(
        py::make_tuple(t.name, std::string(train::DtypeName(t.dtype)), t.shape, py::bytes(t.data)));
  }
  return py::make_tuple(file.metadata, tensors);
}

py::dict InfoToDict(const train::LayerFileInfo& info) {
  py::dict d;
  d["layer"] = info.layer;
  d["file"] = info.file;
  d["bytes"] = info.bytes;
  d["checksum"] = info.checksum;
  return d;
}

void Bind(py::module_& m) {
  m.def(
      "encode_safetensors",
      [](const std::vector<PyTensor>& tensors, const std::map<std::string, std::string>& metadata) {
        return py::bytes(ValueOrThrow(train::EncodeSafetensors(ToFile(tensors, metadata))));
      },
      py::arg("tensors"), py::arg("metadata"),
      "A safetensors file's bytes from [(name, dtype, shape, bytes)] and string metadata.");
  m.def(
      "decode_safetensors",
      [](const py::bytes& bytes, const std::string& source) {
        return FromFile(ValueOrThrow(train::DecodeSafetensors(std::string(bytes), source)));
      },
      py::arg("data"), py::arg("source"),
      "(metadata, [(name, dtype, shape, bytes)]); TangramError DATA_LOSS naming `source`.");
  m.def(
      "write_layer_file",
      [](const std::string& dir, int64_t step, const std::string& layer,
         const std::vector<PyTensor>& tensors, const std::map<std::string, std::string>& metadata) {
        SafetensorsFile file = ToFile(tensors, metadata);
        train::LayerFileInfo info;
        {
          py::gil_scoped_release release;
          info = ValueOrThrow(train::WriteLayerFile(dir, step, layer, file));
        }
        return InfoToDict(info);
      },
      py::arg("dir"), py::arg("step"), py::arg("layer"), py::arg("tensors"), py::arg("metadata"),
      "Writes DIR/step-N/layer-<layer>.safetensors atomically; returns its info for the commit.");
  m.def(
      "commit_checkpoint",
      [](const std::string& dir, int64_t step, const std::vector<py::dict>& infos, int keep) {
        std::vector<train::LayerFileInfo> files;
        for (const py::dict& d : infos) {
          files.push_back({d["layer"].cast<std::string>(), d["file"].cast<std::string>(),
                           d["bytes"].cast<int64_t>(), d["checksum"].cast<uint64_t>()});
        }
        py::gil_scoped_release release;
        ThrowIfError(train::CommitCheckpoint(dir, step, files, keep));
      },
      py::arg("dir"), py::arg("step"), py::arg("infos"), py::arg("keep") = 2,
      "Writes the manifest, then LATEST (temp + fsync + rename), then applies retention.");
  m.def(
      "latest_checkpoint_step",
      [](const std::string& dir) { return ValueOrThrow(train::LatestStep(dir)); }, py::arg("dir"),
      "The step LATEST names; TangramError NOT_FOUND when there is none.");
  m.def(
      "load_checkpoint_files",
      [](const std::string& dir, int64_t step) {
        train::CheckpointFiles files;
        {
          py::gil_scoped_release release;
          files = ValueOrThrow(step < 0 ? train::LoadLatestFiles(dir)
                                        : train::LoadCheckpointFiles(dir, step));
        }
        py::list layers;
        for (const auto& [layer, file] : files.layers) {
          layers.append(py::make_tuple(layer, FromFile(file)));
        }
        return py::make_tuple(files.step, layers);
      },
      py::arg("dir"), py::arg("step") = -1,
      "(step, [(layer, (metadata, tensors))]) of a verified checkpoint (step -1: the latest).");
}

}  // namespace

TANGRAM_PY_BINDINGS(30, checkpoint, Bind);

}  // namespace tangram::python
