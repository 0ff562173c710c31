// In-process transport: connections between ranks that are threads of one process. Used by the
// executor and algorithm tests (one thread per rank) and by anything that wants the transport
// contract of transport.h without sockets. Every message is copied once, straight into the posted
// receive buffer when one is waiting, otherwise into a queue of unexpected messages; its CRC32C is
// computed on send and checked on receive, exactly as on the wire.
//
// Thread-safety: InProcHub, its contexts and connections are safe to use from any thread.
// Ownership: contexts and connections keep the hub alive (shared_ptr); a connection outlives
// its peer safely (the peer's destruction closes it, and this end then fails with kUnavailable).
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_INPROC_TRANSPORT_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_INPROC_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

// The rendezvous point of the ranks of one process: where Connect finds the peer's Accept.
// Create one per job and hand it to MakeInProcContext for every rank.
class InProcHub;
std::shared_ptr<InProcHub> MakeInProcHub();

// The Context of `rank` on `hub`; its address is "inproc:<rank>". Connect(peer, "inproc:<peer>")
// blocks until the peer's context exists (or the deadline: kUnavailable); the peer's Accept
// then returns this rank with the other end. Connections carry `job_id` in every frame; a
// context on the same hub with another job id is refused at Connect (kUnauthenticated).
// kInvalidArgument when rank < 0 or the rank already has a context on this hub.
absl::StatusOr<std::unique_ptr<Context>> MakeInProcContext(std::shared_ptr<InProcHub> hub, int rank,
                                                           uint64_t job_id);

// A connected pair, end 0 and end 1 (rank_a's end first). For tests and for building meshes.
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> MakeInProcPair(int rank_a,
                                                                                   int rank_b,
                                                                                   uint64_t job_id);

// A full mesh among `world_size` ranks: result[r][p] is rank r's connection to rank p,
// nullptr for p == r. The executor tests run one thread per rank over this.
std::vector<std::vector<std::unique_ptr<Connection>>> MakeInProcMesh(int world_size,
                                                                     uint64_t job_id);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_INPROC_TRANSPORT_H_
