// `tangram validate FILE...`: checks any config file (catalog, fleet, model, job), told apart by
// its top-level keys. Prints one line per file; exits 2 if any file is invalid.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"
#include "partitioner/design_space.h"
#include "partitioner/plan_json.h"

namespace tangram::orchestrator {
namespace {

class ValidateCommand : public Command {
 public:
  std::string Name() const override { return "validate"; }
  std::string Description() const override {
    return "Check config files (device catalog, fleet, model, job or plan; detected from content)";
  }
  void Configure(CLI::App* sub) override {
    sub->add_option("files", files_, "Config files to check")->required();
  }

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    absl::Status first_error;
    nlohmann::json results = nlohmann::json::array();
    for (const auto& file : files_) {
      std::string kind;
      absl::Status status = ValidateOne(file, catalog, &kind);
      results.push_back({{"file", file},
                         {"kind", kind},
                         {"ok", status.ok()},
                         {"error", status.ok() ? "" : std::string(status.message())}});
      if (status.ok()) {
        if (!global.json) std::cout << file << ": ok (" << kind << ")\n";
      } else {
        std::cerr << status.message() << "\n";
        if (first_error.ok()) first_error = status;
      }
    }
    if (global.json) PrintJson(results);
    if (!first_error.ok()) {
      return absl::Status(first_error.code(), "");  // already printed per file
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status ValidateOne(const std::string& file,
                                  const partitioner::DeviceCatalog& catalog, std::string* kind) {
    TANGRAM_ASSIGN_OR_RETURN(auto doc, partitioner::YamlDocument::LoadFile(file));
    return ValidateConfigDocument(doc, catalog, kind);
  }

  std::vector<std::string> files_;
};

}  // namespace

std::unique_ptr<Command> MakeValidateCommand() { return std::make_unique<ValidateCommand>(); }

}  // namespace tangram::orchestrator
