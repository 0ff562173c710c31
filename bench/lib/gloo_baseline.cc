#include "bench/lib/gloo_baseline.h"

#include <chrono>
#include <exception>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "bench/lib/allreduce_pattern.h"
#include "gloo/allreduce.h"
#include "gloo/barrier.h"
#include "gloo/common/error.h"
#include "gloo/math.h"
#include "gloo/rendezvous/context.h"
#include "gloo/rendezvous/file_store.h"
#include "gloo/rendezvous/prefix_store.h"
#include "gloo/transport/tcp/device.h"

namespace crosslink::bench {
namespace {

using GlooReduce = void (*)(void*, const void*, const void*, size_t);

absl::Status FromGlooException(const std::exception& e, int rank, const std::string& where) {
  const std::string message =
      absl::StrCat("gloo baseline rank ", rank, ", ", where, ": ", e.what());
  if (dynamic_cast<const gloo::IoException*>(&e) != nullptr) {
    // Gloo reports its own timeouts as IoException whose text says "Timed out".
    if (std::string(e.what()).find("imed out") != std::string::npos) {
      return absl::DeadlineExceededError(message);
    }
    return absl::UnavailableError(message);
  }
  return absl::UnavailableError(message);
}

void GlooAllreduce(const std::shared_ptr<gloo::Context>& context, float* data, size_t count,
                   uint32_t tag, std::chrono::milliseconds timeout) {
  gloo::AllreduceOptions opts(context);
  opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
  opts.setOutput(data, count);
  opts.setReduceFunction(static_cast<GlooReduce>(&gloo::sum<float>));
  opts.setTag(tag);
  opts.setTimeout(timeout);
  gloo::allreduce(opts);
}

void GlooBarrier(const std::shared_ptr<gloo::Context>& context, uint32_t tag,
                 std::chrono::milliseconds timeout) {
  gloo::BarrierOptions opts(context);
  opts.setTag(tag);
  opts.setTimeout(timeout);
  gloo::barrier(opts);
}

}  // namespace

absl::StatusOr<std::vector<GlooSample>> RunGlooAllreduce(const GlooBaselineOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("gloo baseline: rank ", options.rank,
                                                   " outside world of ", options.world_size));
  }
  if (options.iters < 1 || options.warmup < 0) {
    return absl::InvalidArgumentError(absl::StrCat("gloo baseline: iters ", options.iters,
                                                   " and warmup ", options.warmup,
                                                   " must be >= 1 and >= 0"));
  }
  for (int64_t bytes : options.sizes_bytes) {
    if (bytes <= 0 || bytes % static_cast<int64_t>(sizeof(float)) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gloo baseline: size ", bytes, " bytes is not a positive multiple of 4 (float)"));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(options.store_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("gloo baseline: cannot create store folder ",
                                               options.store_dir.string(), ": ", ec.message()));
  }
  const auto timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout));
  std::vector<GlooSample> samples;
  std::string stage = "rendezvous";
  try {
    gloo::rendezvous::FileStore file_store(options.store_dir.string());
    gloo::rendezvous::PrefixStore store(options.prefix, file_store);
    gloo::transport::tcp::attr attr;
    attr.hostname = options.hostname;
    auto device = gloo::transport::tcp::CreateDevice(attr);
    auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    context->setTimeout(timeout);
    context->connectFullMesh(store, device);

    uint32_t tag = 0;
    for (int64_t bytes : options.sizes_bytes) {
      stage = absl::StrCat("allreduce of ", bytes, " bytes");
      const size_t count = static_cast<size_t>(bytes) / sizeof(float);
      std::vector<float> data(count);
      FillPattern(options.rank, absl::MakeSpan(data));
      for (int i = 0; i < options.warmup; ++i)
        GlooAllreduce(context, data.data(), count, ++tag, timeout);
      // Start the clock together so one rank's late start does not count as allreduce time.
      GlooBarrier(context, ++tag, timeout);
      const absl::Time start = absl::Now();
      for (int i = 0; i < options.iters; ++i)
        GlooAllreduce(context, data.data(), count, ++tag, timeout);
      const absl::Duration elapsed = absl::Now() - start;
      // The timed loop reduces sums of sums; the check runs once more on fresh data.
      FillPattern(options.rank, absl::MakeSpan(data));
      GlooAllreduce(context, data.data(), count, ++tag, timeout);
      GlooSample sample;
      sample.bytes = bytes;
      sample.time_us = absl::ToDoubleMicroseconds(elapsed) / options.iters;
      sample.wrong = CountWrongSum(options.world_size, data);
      samples.push_back(sample);
    }
    stage = "final barrier";
    GlooBarrier(context, ++tag, timeout);
  } catch (const std::exception& e) {
    return FromGlooException(e, options.rank, stage);
  }
  return samples;
}

struct GlooSession::State {
  int rank = 0;
  std::chrono::milliseconds timeout{0};
  std::shared_ptr<gloo::transport::Device> device;
  std::shared_ptr<gloo::rendezvous::Context> context;
  uint32_t tag = 0;
};

GlooSession::GlooSession(std::unique_ptr<State> state) : state_(std::move(state)) {}
GlooSession::~GlooSession() = default;

absl::StatusOr<std::unique_ptr<GlooSession>> GlooSession::Connect(
    const GlooBaselineOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("gloo baseline: rank ", options.rank,
                                                   " outside world of ", options.world_size));
  }
  std::error_code ec;
  std::filesystem::create_directories(options.store_dir, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("gloo baseline: cannot create store folder ",
                                               options.store_dir.string(), ": ", ec.message()));
  }
  auto state = std::make_unique<State>();
  state->rank = options.rank;
  state->timeout = std::chrono::milliseconds(absl::ToInt64Milliseconds(options.timeout));
  try {
    gloo::rendezvous::FileStore file_store(options.store_dir.string());
    gloo::rendezvous::PrefixStore store(options.prefix, file_store);
    gloo::transport::tcp::attr attr;
    attr.hostname = options.hostname;
    state->device = gloo::transport::tcp::CreateDevice(attr);
    state->context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.world_size);
    state->context->setTimeout(state->timeout);
    state->context->connectFullMesh(store, state->device);
  } catch (const std::exception& e) {
    return FromGlooException(e, options.rank, "rendezvous");
  }
  return std::unique_ptr<GlooSession>(new GlooSession(std::move(state)));
}

absl::Status GlooSession::Allreduce(absl::Span<float> data) {
  try {
    GlooAllreduce(state_->context, data.data(), data.size(), ++state_->tag, state_->timeout);
  } catch (const std::exception& e) {
    return FromGlooException(e, state_->rank,
                             absl::StrCat("allreduce of ", data.size() * 4, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status GlooSession::Barrier() {
  try {
    GlooBarrier(state_->context, ++state_->tag, state_->timeout);
  } catch (const std::exception& e) {
    return FromGlooException(e, state_->rank, "barrier");
  }
  return absl::OkStatus();
}

}  // namespace crosslink::bench
