// Conversions between the coordinator's generated protobuf messages and the plain types of
// membership.h, shared by the server and the client.
#ifndef CROSSLINK_RUNTIME_SRC_COORDINATOR_PROTO_H_
#define CROSSLINK_RUNTIME_SRC_COORDINATOR_PROTO_H_

#include "crosslink/runtime/coordinator.pb.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

inline void ToProto(const Membership& in, proto::Membership* out) {
  out->set_epoch(in.epoch);
  for (int r : in.alive_ranks) out->add_alive_ranks(r);
  for (const DeadRank& d : in.dead_ranks) {
    proto::DeadRank* p = out->add_dead_ranks();
    p->set_rank(d.rank);
    p->set_reason(d.reason);
    p->set_epoch(d.epoch);
  }
}

inline Membership FromProto(const proto::Membership& in) {
  Membership out;
  out.epoch = in.epoch();
  out.alive_ranks.assign(in.alive_ranks().begin(), in.alive_ranks().end());
  for (const proto::DeadRank& d : in.dead_ranks()) {
    out.dead_ranks.push_back(DeadRank{d.rank(), d.reason(), d.epoch()});
  }
  return out;
}

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COORDINATOR_PROTO_H_
