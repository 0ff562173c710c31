// Fault injection for transport tests: lets one conformance suite corrupt a payload "on the
// wire" for every backend without knowing its type. Not for production code paths.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_TEST_HOOKS_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_TEST_HOOKS_H_

#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

// Implemented by connections that can fake a corrupted wire (in-process, TCP, shared memory, and
// the wrappers LinkEmulator and ResumableConnection, which forward to their inner connection).
class CorruptibleForTesting {
 public:
  virtual ~CorruptibleForTesting() = default;
  // The next message this end receives gets one payload bit flipped after the sender computed
  // its CRC32C (the CRC itself when the payload is empty), so that receive fails with kDataLoss.
  virtual void CorruptNextReceiveForTesting() = 0;
};

// Arms CorruptNextReceiveForTesting on `connection`; false when it does not support it.
inline bool CorruptNextReceiveForTesting(Connection& connection) {
  auto* corruptible = dynamic_cast<CorruptibleForTesting*>(&connection);
  if (corruptible == nullptr) return false;
  corruptible->CorruptNextReceiveForTesting();
  return true;
}

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_TEST_HOOKS_H_
