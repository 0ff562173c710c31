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
  for (const AdmittedRank& a : in.admitted) {
    proto::AdmittedRank* p = out->add_admitted();
    p->set_rank(a.rank);
    p->set_epoch(a.epoch);
    p->set_incarnation(a.incarnation);
    p->set_data_address(a.data_address);
  }
  for (int r : in.joining_ranks) out->add_joining_ranks(r);
}

inline Membership FromProto(const proto::Membership& in) {
  Membership out;
  out.epoch = in.epoch();
  out.alive_ranks.assign(in.alive_ranks().begin(), in.alive_ranks().end());
  for (const proto::DeadRank& d : in.dead_ranks()) {
    out.dead_ranks.push_back(DeadRank{d.rank(), d.reason(), d.epoch()});
  }
  for (const proto::AdmittedRank& a : in.admitted()) {
    out.admitted.push_back(AdmittedRank{a.rank(), a.epoch(), a.incarnation(), a.data_address()});
  }
  out.joining_ranks.assign(in.joining_ranks().begin(), in.joining_ranks().end());
  return out;
}

inline void ToProto(const World& in, proto::RegisterResponse* out) {
  out->set_job_id(in.job_id);
  out->set_world_size(in.world_size);
  for (const std::string& a : in.data_addresses) out->add_data_addresses(a);
  out->set_scenario_text(in.scenario_text);
  ToProto(in.membership, out->mutable_membership());
  out->set_heartbeat_interval_ms(in.heartbeat_interval_ms);
  out->set_heartbeat_miss_count(in.heartbeat_miss_count);
}

inline World FromProto(const proto::RegisterResponse& in) {
  World world;
  world.job_id = in.job_id();
  world.world_size = in.world_size();
  world.data_addresses.assign(in.data_addresses().begin(), in.data_addresses().end());
  world.scenario_text = in.scenario_text();
  world.membership = FromProto(in.membership());
  world.heartbeat_interval_ms = in.heartbeat_interval_ms();
  world.heartbeat_miss_count = in.heartbeat_miss_count();
  return world;
}

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COORDINATOR_PROTO_H_
