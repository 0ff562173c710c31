// A whole Crosslink job inside one test process: a CoordinatorServer on an ephemeral loopback port
// and one Communicator per rank, each joined from its own thread over plain TCP (ideal links).
// RunJob calls body(rank, collectives) on every rank's thread and returns when all have returned;
// the communicators are destroyed only after every rank is done, so no rank closes a connection
// a slower peer still reads from. gtest's EXPECT_* are thread-safe; ASSERT_* returns from body.
#ifndef CROSSLINK_TESTS_TORCH_TORCH_TEST_JOB_H_
#define CROSSLINK_TESTS_TORCH_TORCH_TEST_JOB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/torch/tensor_collectives.h"
#include "gtest/gtest.h"

namespace crosslink::torch::testing {

// RunElasticJob: RunJob (below) with elastic communicators (CommunicatorOptions::elastic) and the
// coordinator at hand:
// a body can declare its own rank dead (CoordinatorServer::ReportFailure, what crosslink-run does
// when a rank's process dies) and return, which the others then see as a rank's death.
inline void RunElasticJob(int world_size,
                          const std::function<void(int rank, std::shared_ptr<TensorCollectives>,
                                                   runtime::CoordinatorServer& server)>& body,
                          bool elastic = true) {
  runtime::CoordinatorOptions coordinator_options;
  coordinator_options.world_size = world_size;
  coordinator_options.job_token = "torch-test-token";
  coordinator_options.job_id = "torch-test";
  coordinator_options.scenario_text = "";
  coordinator_options.rendezvous_timeout = absl::Seconds(60);
  auto server = runtime::CoordinatorServer::Start(coordinator_options);
  ASSERT_TRUE(server.ok()) << server.status();

  std::vector<std::shared_ptr<TensorCollectives>> collectives(world_size);
  std::vector<std::thread> threads;
  std::atomic<int> bodies_done{0};
  for (int rank = 0; rank < world_size; ++rank) {
    threads.emplace_back([&, rank] {
      runtime::CommunicatorOptions options;
      options.rank = rank;
      options.world_size = world_size;
      options.coordinator_address = (*server)->address();
      options.job_token = coordinator_options.job_token;
      options.ideal = true;
      options.elastic = elastic;
      options.setup_timeout = absl::Seconds(60);
      auto communicator = runtime::Communicator::Create(options);
      ASSERT_TRUE(communicator.ok()) << "rank " << rank << ": " << communicator.status();
      collectives[rank] = std::make_shared<TensorCollectives>(
          std::shared_ptr<runtime::Communicator>(std::move(*communicator)));
      body(rank, collectives[rank], **server);
      ++bodies_done;
    });
  }
  for (std::thread& thread : threads) thread.join();
  // A body that returned early through ASSERT_* has failed already; this catches a rank that
  // never reached its body at all.
  EXPECT_EQ(bodies_done.load(), world_size);
  collectives.clear();
  (*server)->Stop();
}

inline void RunJob(int world_size,
                   const std::function<void(int rank, std::shared_ptr<TensorCollectives>)>& body) {
  RunElasticJob(
      world_size,
      [&](int rank, std::shared_ptr<TensorCollectives> collectives, runtime::CoordinatorServer&) {
        body(rank, std::move(collectives));
      },
      /*elastic=*/false);
}

// Collective options for tests: a failure shows well within the test's time limit.
inline runtime::CollectiveOptions TestOptions() {
  runtime::CollectiveOptions options;
  options.timeout = absl::Seconds(30);
  return options;
}

}  // namespace crosslink::torch::testing

#endif  // CROSSLINK_TESTS_TORCH_TORCH_TEST_JOB_H_
