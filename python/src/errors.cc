#include "python/src/errors.h"

#include <pybind11/pybind11.h>

#include <string>

namespace py = pybind11;

namespace tangram::python {

void RegisterErrorTranslator() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      // The exception class lives in pure Python so that users can catch and subclass it.
      py::object cls = py::module_::import("tangram.errors").attr("TangramError");
      std::string code = absl::StatusCodeToString(e.status().code());
      py::object error = cls(code, std::string(e.status().message()));
      PyErr_SetObject(cls.ptr(), error.ptr());
    }
  });
}

}  // namespace tangram::python
