// Timelines for people: a step as Chrome trace / Perfetto JSON (opens in ui.perfetto.dev and
// chrome://tracing), and writing any text output to a file.
//
// One process per device (its track, named "device 12 · H200 · stage 1 · replica 0"), two threads
// in it: "compute" (forward and backward passes, the optimizer) and "communication" (pipeline
// sends, gradient-bucket allreduces, and the tensor-parallel collectives at the end of each pass).
// Times are microseconds from the start of the step. Pure functions; thread-safe.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_TRACE_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_TRACE_H_

#include <string>

#include "absl/status/status.h"
#include "orchestrator/simulator/simulator.h"

namespace tangram::simulator {

// The trace of `step` (which must carry a timeline: SimOptions::record_timeline). `label` names
// the run in the trace's metadata.
std::string ChromeTraceJson(const StepResult& step, const std::string& label);

}  // namespace tangram::simulator

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_TRACE_H_
