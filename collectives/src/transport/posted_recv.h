// Internal: a receive a Connection's user has posted and no message has completed yet, as the
// transports' matching logic (frame_matcher.h for TCP and shared memory, inproc_connection.h)
// keeps it.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_POSTED_RECV_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_POSTED_RECV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "crosslink/collectives/transport/completion.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives::transport_internal {

struct PostedRecv {
  absl::Span<std::byte> buffer;
  std::shared_ptr<Completion> completion;
  // Set for RecvAllocated: `buffer` becomes this vector, sized when the message's header arrives.
  std::shared_ptr<std::vector<std::byte>> allocated;
  // Set for RecvPieces: the payload goes to this sink piece by piece (`buffer` stays empty), and
  // may be at most sink_max_bytes long.
  std::shared_ptr<PieceSink> sink = nullptr;
  uint64_t sink_max_bytes = 0;
};

}  // namespace crosslink::collectives::transport_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_POSTED_RECV_H_
