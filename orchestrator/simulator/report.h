// Reports of a simulated step for machines (JSON) and people (text), shared by `tangram
// simulate` and `tangram compare`. Pure functions; thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_REPORT_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_REPORT_H_

#include <string>

#include "nlohmann/json.hpp"
#include "orchestrator/simulator/run.h"
#include "orchestrator/simulator/simulator.h"

namespace tangram::simulator {

// step_time_s, tokens_per_s, mfu, tflops_per_device, pipeline_s, bubble_fraction,
// busy_fraction, exposed_comm_s (+ p2p and allreduce parts), optimizer_s, peak_memory_fraction,
// fits_memory, allreduce_algorithm, events; `stages` (per stage: kinds, busy, memory vs
// capacity); with `devices`, one entry per device (busy fraction, peak memory, capacity).
nlohmann::json StepJson(const StepResult& step, bool devices);

// The whole run: {"simulated": StepJson, "cost_model": {...}, "plan": {...}, "steps": [...],
// "failure": {...}} plus the same four headline keys at the top level.
nlohmann::json RunJson(const RunResult& run, const SimOptions& options);

// A few lines and a per-stage table for a terminal.
std::string RunText(const RunResult& run, const SimOptions& options);

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_REPORT_H_
