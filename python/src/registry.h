// How the binding files join the `_tangram` module: each python/src/bind_<area>.cc registers one
// function with TANGRAM_PY_BINDINGS, and module.cc calls them all (in `order`, then by name) when
// Python imports the module. Adding an area is adding a file; no shared list to edit.
#ifndef TANGRAM_PYTHON_SRC_REGISTRY_H_
#define TANGRAM_PYTHON_SRC_REGISTRY_H_

#include <pybind11/pybind11.h>

namespace tangram::python {

using BindFunction = void (*)(pybind11::module_& m);

// Registers `fn` at static-initialisation time. `order`: lower runs first (types that other
// areas' signatures mention should register early).
struct BindingRegistration {
  BindingRegistration(int order, const char* name, BindFunction fn);
};

// Runs every registered function on `m`.
void RunBindings(pybind11::module_& m);

}  // namespace tangram::python

#define TANGRAM_PY_BINDINGS(order, name, fn)                                                       \
  static const ::tangram::python::BindingRegistration tangram_py_registration_##name(order, #name, \
                                                                                     fn)

#endif  // TANGRAM_PYTHON_SRC_REGISTRY_H_
