#include "collectives/transport.h"

#include "base/status_macros.h"

namespace tangram::collectives {

absl::Status Send(Transport& transport, int dst, int tag, const void* data, size_t bytes,
                  absl::Time deadline) {
  TANGRAM_ASSIGN_OR_RETURN(auto request, transport.ISend(dst, tag, data, bytes));
  return request->Wait(deadline);
}

absl::Status Recv(Transport& transport, int src, int tag, void* data, size_t bytes,
                  absl::Time deadline) {
  TANGRAM_ASSIGN_OR_RETURN(auto request, transport.IRecv(src, tag, data, bytes));
  return request->Wait(deadline);
}

absl::Status SendRecv(Transport& transport, int dst, const void* send, size_t send_bytes, int src,
                      void* recv, size_t recv_bytes, int tag, absl::Time deadline) {
  std::unique_ptr<TransportRequest> recv_request;
  std::unique_ptr<TransportRequest> send_request;
  // Post the receive first so that a rendezvous transport can match the peer's send at once.
  if (src >= 0) {
    TANGRAM_ASSIGN_OR_RETURN(recv_request, transport.IRecv(src, tag, recv, recv_bytes));
  }
  if (dst >= 0) {
    TANGRAM_ASSIGN_OR_RETURN(send_request, transport.ISend(dst, tag, send, send_bytes));
  }
  if (send_request) TANGRAM_RETURN_IF_ERROR(send_request->Wait(deadline));
  if (recv_request) TANGRAM_RETURN_IF_ERROR(recv_request->Wait(deadline));
  return absl::OkStatus();
}

}  // namespace tangram::collectives
