// The shipped training corpus (orchestrator/model/corpus.h) for Python, so that a PyTorch model
// trains on exactly the samples the C++ runtime would: sample i is a pure function of (options, i).
#include <pybind11/pybind11.h>

#include <cstdint>

#include "orchestrator/model/corpus.h"
#include "python/src/errors.h"
#include "python/src/registry.h"

namespace py = pybind11;

namespace tangram::python {
namespace {

void Bind(py::module_& m) {
  py::class_<train::MarkovCorpus>(m, "MarkovCorpus")
      .def(py::init([](uint64_t seed, int alphabet, int branching, int64_t seq_len) {
             train::CorpusOptions options;
             options.seed = seed;
             options.alphabet = alphabet;
             options.branching = branching;
             options.seq_len = seq_len;
             return ValueOrThrow(train::MarkovCorpus::Create(options));
           }),
           py::arg("seed") = 1, py::arg("alphabet") = 32, py::arg("branching") = 4,
           py::arg("seq_len") = 64)
      .def_property_readonly("entropy_rate", &train::MarkovCorpus::entropy_rate,
                             "The loss floor: entropy rate in nats per token.")
      .def_property_readonly("seq_len",
                             [](const train::MarkovCorpus& c) { return c.options().seq_len; })
      .def(
          "fill",
          [](const train::MarkovCorpus& c, int64_t index, uintptr_t inputs, uintptr_t targets) {
            c.Sample(index, reinterpret_cast<int32_t*>(inputs),
                     reinterpret_cast<int32_t*>(targets));
          },
          py::arg("index"), py::arg("inputs"), py::arg("targets"),
          "Writes sample `index` (seq_len int32 inputs and targets) at the two addresses.");
}

}  // namespace

TANGRAM_PY_BINDINGS(30, corpus, Bind);

}  // namespace tangram::python
