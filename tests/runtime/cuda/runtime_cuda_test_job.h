// A whole Crosslink job inside one test process for the GPU tests of the runtime: a
// CoordinatorServer on an ephemeral loopback port and one Communicator per rank, each joined from
// its own thread over plain TCP, all ranks sharing the machine's GPUs. RunJob calls body(rank,
// communicator) on every rank's thread and returns when all have returned; the communicators are
// destroyed only after every rank is done, so no rank closes a connection a slower peer reads.
#ifndef CROSSLINK_TESTS_RUNTIME_CUDA_RUNTIME_CUDA_TEST_JOB_H_
#define CROSSLINK_TESTS_RUNTIME_CUDA_RUNTIME_CUDA_TEST_JOB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "../../collectives/cuda/cuda_test_util.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gtest/gtest.h"

namespace crosslink::runtime::testing {

inline void RunJob(int world_size, const std::function<void(int rank, Communicator&)>& body) {
  CoordinatorOptions coordinator_options;
  coordinator_options.world_size = world_size;
  coordinator_options.job_token = "cuda-test-token";
  coordinator_options.job_id = "cuda-test";
  coordinator_options.rendezvous_timeout = absl::Seconds(60);
  auto server = CoordinatorServer::Start(coordinator_options);
  ASSERT_TRUE(server.ok()) << server.status();

  std::vector<std::unique_ptr<Communicator>> communicators(world_size);
  std::vector<std::thread> threads;
  std::atomic<int> bodies_done{0};
  for (int rank = 0; rank < world_size; ++rank) {
    threads.emplace_back([&, rank] {
      CommunicatorOptions options;
      options.rank = rank;
      options.world_size = world_size;
      options.coordinator_address = (*server)->address();
      options.job_token = coordinator_options.job_token;
      options.ideal = true;
      options.setup_timeout = absl::Seconds(60);
      auto communicator = Communicator::Create(options);
      ASSERT_TRUE(communicator.ok()) << "rank " << rank << ": " << communicator.status();
      communicators[rank] = *std::move(communicator);
      body(rank, *communicators[rank]);
      ++bodies_done;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bodies_done.load(), world_size);
  communicators.clear();
  (*server)->Stop();
}

// A failure shows well within the test's time limit.
inline CollectiveOptions TestOptions() {
  CollectiveOptions options;
  options.timeout = absl::Seconds(60);
  return options;
}

}  // namespace crosslink::runtime::testing

#endif  // CROSSLINK_TESTS_RUNTIME_CUDA_RUNTIME_CUDA_TEST_JOB_H_
