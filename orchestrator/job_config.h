// A training job (configs/jobs/*.yaml): which fleet and model, how to train, where to checkpoint.
//
// Paths to the fleet and model are relative to the job file. Loading validates the job and the
// files it names; every error names the file, line:column and field.
#ifndef TANGRAM_ORCHESTRATOR_JOB_CONFIG_H_
#define TANGRAM_ORCHESTRATOR_JOB_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/kinds.h"
#include "partitioner/model.h"
#include "partitioner/training.h"
#include "partitioner/yaml_reader.h"

namespace tangram::orchestrator {

struct JobConfig {
  std::string name;
  std::string path;        // the job file as given
  std::string fleet_path;  // resolved against the job file's directory
  std::string model_path;
  partitioner::Fleet fleet;
  partitioner::ModelSpec model;
  partitioner::TrainingSpec training;
  partitioner::StrategyKind strategy = partitioner::StrategyKind::kAuto;
  std::string transport = "sim";  // sim | mpi | nccl
  int64_t steps = 10;
  std::string checkpoint_dir;    // resolved against the job file's directory; "" = none
  int64_t checkpoint_every = 0;  // steps; 0 = only at the end
  uint64_t seed = 0;
  double learning_rate = 1e-3;
  // Tokens the whole training run consumes (`tangram design`: time to train = this ÷ tokens/s);
  // 0 = not given.
  double train_tokens = 0;
};

// Loads the job at `path`, then the fleet and model it names.
absl::StatusOr<JobConfig> LoadJob(const std::string& path,
                                  const partitioner::DeviceCatalog& catalog);
absl::StatusOr<JobConfig> JobFromDocument(const partitioner::YamlDocument& doc,
                                          const partitioner::DeviceCatalog& catalog);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_JOB_CONFIG_H_
