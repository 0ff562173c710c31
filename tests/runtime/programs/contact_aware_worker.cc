// One rank of the contact-aware allreduce test (tests/runtime/contact_aware_allreduce_test.cc),
// started through crosslink-run:
//
//   crosslink-test-contact-aware-worker ALGO DEADLINE_S     (ALGO: contact-aware | naive-ring)
//
// Runs one allreduce of 1 Mi floats with the given algorithm and a deadline of DEADLINE_S wall
// seconds, checks every element against the exact sum, and prints
// "result: CODE after S s: MESSAGE" (CODE as absl spells it, OK on success), then exits 0 on OK.
// naive-ring runs with CROSSLINK_OUTAGE_MODE=hold (messages wait for their links).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/communicator.h"

namespace {

using crosslink::collectives::AllreduceAlgorithm;
using crosslink::collectives::DataType;
using crosslink::collectives::ReduceOp;
using crosslink::runtime::CollectiveOptions;
using crosslink::runtime::Communicator;

float Value(int rank, size_t i) {
  return static_cast<float>((rank * 7 + static_cast<int>(i % 97)) % 101);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crosslink-test-contact-aware-worker ALGO DEADLINE_S\n");
    return 2;
  }
  const std::string algo = argv[1];
  const double deadline_s = std::atof(argv[2]);
  // The naive ring stands for NCCL or Gloo: a message waits for its link. (With the default cut
  // mode the runtime would resume it over a detour, which is Crosslink's own behaviour.)
  if (algo == "naive-ring") setenv("CROSSLINK_OUTAGE_MODE", "hold", 1);
  auto comm = Communicator::CreateFromEnvironment(absl::Seconds(60));
  if (!comm.ok()) {
    std::fprintf(stderr, "setup: %s\n", comm.status().ToString().c_str());
    return 1;
  }
  CollectiveOptions options;
  options.algorithm = AllreduceAlgorithm::kRing;
  options.contact_aware = algo == "contact-aware";
  options.timeout = absl::Seconds(deadline_s);
  const size_t count = size_t{1} << 20;
  std::vector<float> data(count);
  for (size_t i = 0; i < count; ++i) data[i] = Value((*comm)->rank(), i);
  const absl::Time start = absl::Now();
  absl::Status status =
      (*comm)->Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (size_t i = 0; status.ok() && i < count; ++i) {
    float expected = 0;
    for (int r = 0; r < (*comm)->world_size(); ++r) expected += Value(r, i);
    if (data[i] != expected) {
      status = absl::InternalError(
          absl::StrCat("element ", i, " is ", data[i], ", expected ", expected));
    }
  }
  std::printf("result: %s after %.2f s: %s (algorithm %s)\n",
              absl::StatusCodeToString(status.code()).c_str(), seconds,
              std::string(status.message()).c_str(), (*comm)->last_stats().algorithm.c_str());
  std::fflush(stdout);
  return status.ok() ? 0 : 1;
}
