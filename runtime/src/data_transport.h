// Internal: how a communicator's data connections travel (CommunicatorOptions::transport): one
// ShmContext per rank, which upgrades connections between ranks of one host to shared memory when
// the job wants it and keeps the others on TCP. Kept apart from communicator.cc so that the
// choice is one call there.
#ifndef CROSSLINK_RUNTIME_SRC_DATA_TRANSPORT_H_
#define CROSSLINK_RUNTIME_SRC_DATA_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "crosslink/collectives/transport/transport.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

// The listening context of `rank`: TCP on options.listen_host, its connections authenticated by
// the job key derived from options.job_token (inside TLS with options.data_tls), accepting
// shared memory unless options.transport is kTcp. It offers nothing until SetSharedMemoryOffer says
// so (the job's scenario is known only after registering the address). kUnavailable when it cannot
// listen; kInvalidArgument naming what is missing when data_tls lacks a file, and the TLS errors of
// MakeTcpContext.
absl::StatusOr<std::unique_ptr<collectives::ShmContext>> MakeDataContext(
    int rank, uint64_t job_id, const CommunicatorOptions& options);

// The address to register with the coordinator for a context listening on `listen_address`
// ("host:port" or "[v6]:port"). A wildcard host (0.0.0.0, [::]) is no address a peer can dial:
// it is replaced by this host's address on the route to the coordinator at
// `coordinator_address` (the source address the kernel picks for it; nothing is sent). Other
// addresses are returned as they are. kFailedPrecondition naming both addresses when no route
// is found (set CROSSLINK_LISTEN_HOST to a routable address then).
absl::StatusOr<std::string> RegisteredDataAddress(const std::string& listen_address,
                                                  const std::string& coordinator_address);

// Before connecting the mesh: offer shared memory for kShm, and for kAuto in an ideal job (no
// LinkEmulator: copies, not emulated link rates, then set the pace).
void SetSharedMemoryOffer(collectives::ShmContext& context, DataTransport transport,
                          bool ideal_job);

// "auto", "tcp" or "shm" (CROSSLINK_TRANSPORT); kInvalidArgument naming the value otherwise.
absl::StatusOr<DataTransport> ParseDataTransport(std::string_view text);

// "shm to 3 ranks", "shm to 2 ranks, tcp to 1 rank" ("tcp+tls" with `data_tls`), "no peers" for
// the mesh `connections` (nullptr entries skipped).
std::string SummarizeTransports(
    const std::vector<std::unique_ptr<collectives::Connection>>& connections, bool data_tls);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_DATA_TRANSPORT_H_
