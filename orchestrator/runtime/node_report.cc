#include "orchestrator/runtime/node_report.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tangram::orchestrator {

nlohmann::json NodeReport::ToJson() const {
  return {{"rank", rank},
          {"host", host},
          {"device_kind", device_kind},
          {"device_name", device_name},
          {"memory_gib", memory_gib},
          {"measured_tflops", measured_tflops},
          {"seconds_per_sample", seconds_per_sample},
          {"flops_per_sample", flops_per_sample},
          {"calibration_micro_batch", calibration_micro_batch},
          {"layer_shares", layer_shares},
          {"emulate_slowdown", emulate_slowdown},
          {"optimizer_ns_per_parameter", optimizer_ns_per_parameter},
          {"calibration_passes", calibration_passes},
          {"calibration_budget_hit", calibration_budget_hit},
          {"calibration_seconds", calibration_seconds}};
}

absl::StatusOr<NodeReport> NodeReport::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("node report: not a JSON object");
  }
  NodeReport r;
  try {
    r.rank = j.at("rank").get<int>();
    r.host = j.at("host").get<std::string>();
    r.device_kind = j.at("device_kind").get<std::string>();
    r.device_name = j.at("device_name").get<std::string>();
    r.memory_gib = j.at("memory_gib").get<double>();
    r.measured_tflops = j.at("measured_tflops").get<double>();
    r.seconds_per_sample = j.at("seconds_per_sample").get<double>();
    r.emulate_slowdown = j.at("emulate_slowdown").get<double>();
    // Absent in reports written before the calibration had a budget.
    r.calibration_passes = j.value("calibration_passes", 0);
    r.calibration_budget_hit = j.value("calibration_budget_hit", false);
    r.calibration_seconds = j.value("calibration_seconds", 0.0);
    r.optimizer_ns_per_parameter = j.value("optimizer_ns_per_parameter", 0.0);
    r.flops_per_sample = j.value("flops_per_sample", 0.0);
    r.calibration_micro_batch = j.value("calibration_micro_batch", 0);
    r.layer_shares = j.value("layer_shares", std::vector<double>{});
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("node report: ", e.what()));
  }
  return r;
}

NodeReport DescribeThisHost(int rank) {
  NodeReport r;
  r.rank = rank;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) r.host = host;
  if (r.host.empty()) r.host = "localhost";
  r.device_kind = "cpu";
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (absl::StartsWith(line, "model name")) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        r.device_name = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      break;
    }
  }
  if (r.device_name.empty()) r.device_name = "unknown CPU";
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) r.memory_gib = static_cast<double>(pages) * page / (1 << 30);
  return r;
}

}  // namespace tangram::orchestrator
