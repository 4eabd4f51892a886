// The `_tangram` extension module: the C++ core as the Python package sees it. The areas are bound
// in python/src/bind_*.cc (see registry.h); the pure-Python API lives in python/tangram/.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "python/src/errors.h"
#include "python/src/registry.h"

namespace tangram::python {
namespace {

struct Entry {
  int order;
  std::string name;
  BindFunction fn;
};

std::vector<Entry>& Registry() {
  static auto* entries = new std::vector<Entry>();
  return *entries;
}

}  // namespace

BindingRegistration::BindingRegistration(int order, const char* name, BindFunction fn) {
  Registry().push_back({order, name, fn});
}

void RunBindings(pybind11::module_& m) {
  std::vector<Entry> entries = Registry();
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.order, a.name) < std::tie(b.order, b.name);
  });
  for (const Entry& e : entries) e.fn(m);
}

}  // namespace tangram::python

PYBIND11_MODULE(_tangram, m) {
  m.doc() = "Tangram's C++ core (collectives, planner); use the `tangram` package instead";
  tangram::python::RegisterErrorTranslator();
  tangram::python::RunBindings(m);
}
