// P2PCommunicator: a Communicator that runs every collective as one of our point-to-point
// algorithms (algorithms/algorithms.h) over a Transport. The sim transport uses it as is; the MPI
// communicator derives from it and routes Algorithm::kNative calls to the MPI library instead.
//
// Internal to collectives (transports build on it); users go through CreateCommunicator.
// Thread-compatible, like every Communicator.
#ifndef TANGRAM_COLLECTIVES_P2P_COMMUNICATOR_H_
#define TANGRAM_COLLECTIVES_P2P_COMMUNICATOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "collectives/algorithms/group.h"
#include "collectives/communicator.h"
#include "collectives/transport.h"

namespace tangram::collectives {

class P2PCommunicator : public Communicator {
 public:
  // `locality[r]` names the node or island of rank r (used by the hierarchical allreduce); empty
  // means every rank on its own.
  P2PCommunicator(std::unique_ptr<Transport> transport, const CommunicatorOptions& options,
                  std::string transport_name, std::vector<int> locality);

  int rank() const override { return transport_->rank(); }
  int size() const override { return transport_->size(); }
  absl::string_view transport_name() const override { return transport_name_; }
  absl::Duration default_timeout() const override { return options_.timeout; }
  void SetDefaultTimeout(absl::Duration timeout) override { options_.timeout = timeout; }

  absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                         const CallOptions& options = {}) override;
  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                             ReduceOp op, const CallOptions& options = {}) override;
  absl::Status AllGather(const void* send, void* recv, size_t send_count, DataType type,
                         const CallOptions& options = {}) override;
  absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                          DataType type, const CallOptions& options = {}) override;
  absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                         const CallOptions& options = {}) override;
  absl::Status Reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                      int root, const CallOptions& options = {}) override;
  absl::Status Send(const void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options = {}) override;
  absl::Status Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<Request>> ISend(const void* buffer, size_t count, DataType type,
                                                 int peer, int tag,
                                                 const CallOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<Request>> IRecv(void* buffer, size_t count, DataType type,
                                                 int peer, int tag,
                                                 const CallOptions& options = {}) override;
  absl::Status Barrier(const CallOptions& options = {}) override;
  absl::StatusOr<std::unique_ptr<Communicator>> Split(int color, int key) override;
  void Abort(const absl::Status& reason) override { transport_->Abort(reason); }
  std::optional<double> VirtualSeconds() const override { return transport_->VirtualSeconds(); }

 protected:
  // Creates the communicator for a sub-group made by Split; derived transports override it to
  // return their own type.
  virtual std::unique_ptr<Communicator> MakeChild(std::unique_ptr<Transport> transport,
                                                  std::vector<int> locality);

  // Runs `body` with the call's deadline; aborts the transport when it fails.
  absl::Status Run(const CallOptions& options, absl::FunctionRef<absl::Status(const Group&)> body);
  // The algorithm a call asked for, falling back to the communicator default.
  Algorithm Resolve(const CallOptions& options) const;
  absl::Time Deadline(const CallOptions& options) const;
  // True when the members sit on two nodes or more (`locality` has two distinct values).
  bool SpansNodes() const;

  Transport& transport() { return *transport_; }
  const CommunicatorOptions& options() const { return options_; }

 private:
  std::unique_ptr<Transport> transport_;
  CommunicatorOptions options_;
  std::string transport_name_;
  std::vector<int> locality_;
  Scratch scratch_;  // reused by the algorithms from call to call
  Group group_;      // the whole group; Run sets its deadline per call
};

// Argument checks shared by every communicator (kInvalidArgument on failure).
absl::Status CheckBuffer(const void* buffer, size_t count, absl::string_view what);
absl::Status CheckRank(int rank, int size, absl::string_view what);
absl::Status CheckTag(int tag);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_P2P_COMMUNICATOR_H_
