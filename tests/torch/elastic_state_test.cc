// ElasticState: what a rejoined rank receives must make it continue exactly as the rank it copies
// (parameters, optimiser moments and step, counters, a generator), whatever the receiving
// optimiser has done so far; a state of another layout is refused with a message naming the
// entry, and leaves the receiver as it was.
#include "crosslink/torch/elastic_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstring>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::torch {
namespace {

using ::testing::HasSubstr;

struct Net : ::torch::nn::Module {
  explicit Net(int64_t hidden) {
    fc1 = register_module("fc1", ::torch::nn::Linear(8, hidden));
    fc2 = register_module("fc2", ::torch::nn::Linear(hidden, 3));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2->forward(::torch::relu(fc1->forward(x))); }
  ::torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

// One training step on a fixed batch drawn from `seed`.
void TrainStep(Net& net, ::torch::optim::Optimizer& optimizer, uint64_t seed) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor x = ::torch::randn({16, 8}, g);
  const at::Tensor y = ::torch::randint(3, {16}, g, ::torch::kLong);
  optimizer.zero_grad();
  ::torch::nn::functional::cross_entropy(net.forward(x), y).backward();
  optimizer.step();
}

void ExpectSameParameters(Net& a, Net& b) {
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(pa[i].equal(pb[i])) << "parameter " << i;
}

absl::Status Register(ElasticState& state, Net& net, ::torch::optim::Optimizer& optimizer,
                      int64_t* step, at::Generator generator) {
  if (absl::Status s = state.AddNamedTensors("model.", net.named_parameters().pairs()); !s.ok())
    return s;
  if (absl::Status s = state.AddOptimizer("opt", optimizer); !s.ok()) return s;
  state.AddCounter("step", step);
  return state.AddGenerator("data", generator);
}

template <typename Optimizer, typename Options>
void RoundTripContinuesIdentically(Options options) {
  ::torch::manual_seed(1);
  Net source(16);
  Optimizer source_opt(source.parameters(), options);
  for (uint64_t s = 0; s < 3; ++s) TrainStep(source, source_opt, s);
  int64_t source_step = 3;
  at::Generator source_gen = at::make_generator<at::CPUGeneratorImpl>(77);
  ::torch::randn({5}, source_gen);  // the generator has moved on

  ::torch::manual_seed(2);  // other initial weights, no optimiser state at all
  Net receiver(16);
  Optimizer receiver_opt(receiver.parameters(), options);
  int64_t receiver_step = 0;
  at::Generator receiver_gen = at::make_generator<at::CPUGeneratorImpl>(5);

  ElasticState from, to;
  ASSERT_TRUE(Register(from, source, source_opt, &source_step, source_gen).ok());
  ASSERT_TRUE(Register(to, receiver, receiver_opt, &receiver_step, receiver_gen).ok());
  // A fresh optimiser packs to the same size as a trained one.
  EXPECT_EQ(from.bytes(), to.bytes());
  auto bytes = from.Serialize();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_TRUE(to.Deserialize(*bytes).ok());

  ExpectSameParameters(source, receiver);
  EXPECT_EQ(receiver_step, 3);
  EXPECT_TRUE(::torch::randn({4}, source_gen).equal(::torch::randn({4}, receiver_gen)));
  // The optimiser state came along: the next steps give bit-identical weights.
  for (uint64_t s = 10; s < 12; ++s) {
    TrainStep(source, source_opt, s);
    TrainStep(receiver, receiver_opt, s);
  }
  ExpectSameParameters(source, receiver);
}

TEST(ElasticStateTest, AdamRoundTripContinuesIdentically) {
  RoundTripContinuesIdentically<::torch::optim::Adam>(::torch::optim::AdamOptions(1e-2));
}

TEST(ElasticStateTest, AdamWWithAmsgradRoundTripContinuesIdentically) {
  RoundTripContinuesIdentically<::torch::optim::AdamW>(
      ::torch::optim::AdamWOptions(1e-2).amsgrad(true));
}

TEST(ElasticStateTest, SgdWithMomentumRoundTripContinuesIdentically) {
  RoundTripContinuesIdentically<::torch::optim::SGD>(
      ::torch::optim::SGDOptions(0.1).momentum(0.9).dampening(0.1));
}

TEST(ElasticStateTest, AStateWithoutOptimiserStepsErasesTheReceiversState) {
  ::torch::manual_seed(1);
  Net fresh(4);
  ::torch::optim::Adam fresh_opt(fresh.parameters(), ::torch::optim::AdamOptions(1e-2));
  Net trained(4);
  ::torch::optim::Adam trained_opt(trained.parameters(), ::torch::optim::AdamOptions(1e-2));
  TrainStep(trained, trained_opt, 0);
  ASSERT_FALSE(trained_opt.state().empty());
  ElasticState from, to;
  ASSERT_TRUE(from.AddOptimizer("opt", fresh_opt).ok());
  ASSERT_TRUE(to.AddOptimizer("opt", trained_opt).ok());
  auto bytes = from.Serialize();
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(to.Deserialize(*bytes).ok());
  EXPECT_TRUE(trained_opt.state().empty());
}

TEST(ElasticStateTest, AnotherLayoutIsRefusedNamingTheEntryAndChangesNothing) {
  ::torch::manual_seed(1);
  Net small(16), large(17);
  ElasticState from, to;
  ASSERT_TRUE(from.AddNamedTensors("model.", small.named_parameters().pairs()).ok());
  ASSERT_TRUE(to.AddNamedTensors("model.", large.named_parameters().pairs()).ok());
  const at::Tensor before = large.fc1->weight.clone();
  auto bytes = from.Serialize();
  ASSERT_TRUE(bytes.ok());
  const absl::Status status = to.Deserialize(*bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("model.fc1.weight"));
  EXPECT_TRUE(large.fc1->weight.equal(before));

  // Fewer entries, and a truncated body.
  ElasticState fewer;
  ASSERT_TRUE(fewer.AddTensor("only", small.fc1->weight).ok());
  EXPECT_THAT(fewer.Deserialize(*bytes).message(), HasSubstr("entries"));
  ElasticState same;
  ASSERT_TRUE(same.AddNamedTensors("model.", small.named_parameters().pairs()).ok());
  std::vector<std::byte> cut(bytes->begin(), bytes->end() - 1);
  EXPECT_EQ(same.Deserialize(cut).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(same.Deserialize({}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ElasticStateTest, AnImpossiblePresentFlagIsRefusedAndRestoresTheValues) {
  ::torch::manual_seed(1);
  Net net(4);
  ::torch::optim::Adam opt(net.parameters(), ::torch::optim::AdamOptions(1e-2));
  ElasticState state;
  ASSERT_TRUE(state.AddNamedTensors("model.", net.named_parameters().pairs()).ok());
  ASSERT_TRUE(state.AddOptimizer("opt", opt).ok());
  auto bytes = state.Serialize();
  ASSERT_TRUE(bytes.ok());
  // Other weights in the body, and the last entry's (an Adam slot's) flag set to 7.
  const at::Tensor before = net.fc1->weight.clone();
  std::vector<std::byte> bad = *bytes;
  const size_t header = 8 * (1 + 8);  // 4 parameters + 4 optimiser slots
  std::memset(bad.data() + header, 0x3f, 16);
  const size_t last_slot = bad.size() - (16 + 2 * 3 * 4);  // fc2.bias: 3 floats, 2 moments
  const int64_t seven = 7;
  std::memcpy(bad.data() + last_slot, &seven, sizeof(seven));
  const absl::Status status = state.Deserialize(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("present flag 7"));
  EXPECT_TRUE(net.fc1->weight.equal(before));
}

TEST(ElasticStateTest, UnsupportedOptimiserAndGeneratorAreRefused) {
  Net net(4);
  ::torch::optim::RMSprop rmsprop(net.parameters(), ::torch::optim::RMSpropOptions(1e-2));
  ElasticState state;
  const absl::Status status = state.AddOptimizer("rms", rmsprop);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("AddTensor"));
  EXPECT_EQ(state.AddGenerator("none", at::Generator()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(state.AddTensor("undefined", at::Tensor()).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crosslink::torch
