// `tangram devices`: prints the device catalog (catalog figures, with their confidence).
#include <iostream>
#include <optional>

#include "base/status_macros.h"
#include "orchestrator/cli/cli_util.h"

namespace tangram::orchestrator {
namespace {

class DevicesCommand : public Command {
 public:
  std::string Name() const override { return "devices"; }
  std::string Description() const override {
    return "Print the device catalog (catalog figures from datasheets, not measurements)";
  }
  void Configure(CLI::App*) override {}

  absl::Status Run(const GlobalOptions& global) override {
    TANGRAM_ASSIGN_OR_RETURN(auto catalog, LoadCatalog(global));
    if (global.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& d : catalog.devices()) {
        out.push_back({{"kind", d.kind},
                       {"vendor", d.vendor},
                       {"peak_tflops_bf16", d.peak_tflops_bf16},
                       {"memory_gib", d.memory_gib},
                       {"memory_bandwidth_gbs", d.memory_bandwidth_gbs},
                       {"intra_node_link_gbs", d.intra_node_link_gbs},
                       {"nic_gbps", d.nic_gbps},
                       {"collective_library", d.collective_library},
                       {"confidence", d.confidence},
                       {"source", d.source}});
        // The other precisions' peaks (null: the catalog has none) and whether BF16 exists.
        auto optional = [](const std::optional<double>& v) {
          return v.has_value() ? nlohmann::json(*v) : nlohmann::json(nullptr);
        };
        out.back()["peak_tflops_fp32"] = optional(d.peak_tflops_fp32);
        out.back()["peak_tflops_tf32"] = optional(d.peak_tflops_tf32);
        out.back()["peak_tflops_fp16"] = optional(d.peak_tflops_fp16);
        out.back()["has_bf16"] = d.has_bf16;
      }
      PrintJson(out);
      return absl::OkStatus();
    }
    Table t({"kind", "vendor", "peak TFLOP/s bf16", "memory GiB", "mem GB/s", "link GB/s",
             "NIC Gb/s", "library", "confidence"});
    for (const auto& d : catalog.devices()) {
      t.AddRow({d.kind, d.vendor, Fixed(d.peak_tflops_bf16, 0), Fixed(d.memory_gib, 1),
                Fixed(d.memory_bandwidth_gbs, 0), Fixed(d.intra_node_link_gbs, 0),
                Fixed(d.nic_gbps, 0), d.collective_library, d.confidence});
    }
    std::cout << "Device catalog (" << catalog.devices().size()
              << " kinds; catalog figures, dense BF16; measured throughput overrides them)\n"
              << t.Render();
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Command> MakeDevicesCommand() { return std::make_unique<DevicesCommand>(); }

}  // namespace tangram::orchestrator
