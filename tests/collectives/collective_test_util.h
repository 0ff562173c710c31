// Shared by the collectives tests: an in-process mesh with one thread per rank, and a scalar
// reference that reduces in the same fixed order as the algorithms (ring: block b from rank b+1
// around to rank b; tree: binomial, children in increasing distance), written independently of
// reduce.cc so that a wrong reduction loop or a wrong order shows up as a bit difference.
#ifndef CROSSLINK_TESTS_COLLECTIVES_COLLECTIVE_TEST_UTIL_H_
#define CROSSLINK_TESTS_COLLECTIVES_COLLECTIVE_TEST_UTIL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/collectives/transport/inproc_transport.h"

namespace crosslink::collectives::testing {

using Bytes = std::vector<std::byte>;

// world_size ranks joined by an in-process mesh; Context(r) hands out rank r's view with the
// mesh's current sequence number. Run() runs fn(rank) on one thread per rank and returns every
// rank's status, then advances the sequence number as a communicator would.
class Mesh {
 public:
  explicit Mesh(int world_size, uint64_t job_id = 42)
      : world_size_(world_size), job_id_(job_id), conns_(MakeInProcMesh(world_size, job_id)) {}

  int world_size() const { return world_size_; }
  Connection* connection(int rank, int peer) { return conns_[rank][peer].get(); }
  std::unique_ptr<Connection> Take(int rank, int peer) { return std::move(conns_[rank][peer]); }
  void Replace(int rank, int peer, std::unique_ptr<Connection> c) {
    conns_[rank][peer] = std::move(c);
  }

  CollectiveContext Context(int rank) {
    CollectiveContext context;
    context.rank = rank;
    context.world_size = world_size_;
    context.job_id = job_id_;
    context.sequence = sequence_;
    for (int p = 0; p < world_size_; ++p) context.connections.push_back(conns_[rank][p].get());
    return context;
  }

  std::vector<absl::Status> Run(const std::function<absl::Status(int)>& fn,
                                std::vector<int> ranks = {}) {
    if (ranks.empty()) {
      for (int r = 0; r < world_size_; ++r) ranks.push_back(r);
    }
    std::vector<absl::Status> statuses(world_size_);
    std::vector<std::thread> threads;
    for (int r : ranks) threads.emplace_back([&, r] { statuses[r] = fn(r); });
    for (std::thread& t : threads) t.join();
    ++sequence_;
    return statuses;
  }

 private:
  int world_size_;
  uint64_t job_id_;
  uint64_t sequence_ = 0;
  std::vector<std::vector<std::unique_ptr<Connection>>> conns_;
};

inline const DataType kAllTypes[] = {DataType::kFloat32,  DataType::kFloat64, DataType::kFloat16,
                                     DataType::kBFloat16, DataType::kInt32,   DataType::kInt64};
inline const ReduceOp kAllOps[] = {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMin, ReduceOp::kMax};

// Random values with fractional parts (so that the order of float additions matters) and signs.
inline Bytes RandomBuffer(DataType type, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> real(-100.0, 100.0);
  std::uniform_int_distribution<int64_t> integer(-1000, 1000);
  Bytes out(count * DataTypeSize(type));
  for (size_t i = 0; i < count; ++i) {
    std::byte* e = out.data() + i * DataTypeSize(type);
    switch (type) {
      case DataType::kFloat32: {
        float v = static_cast<float>(real(rng)) / 3.0f;
        std::memcpy(e, &v, 4);
        break;
      }
      case DataType::kFloat64: {
        double v = real(rng) / 3.0;
        std::memcpy(e, &v, 8);
        break;
      }
      case DataType::kFloat16: {
        uint16_t v = FloatToHalf(static_cast<float>(real(rng)) / 3.0f);
        std::memcpy(e, &v, 2);
        break;
      }
      case DataType::kBFloat16: {
        uint16_t v = FloatToBFloat16(static_cast<float>(real(rng)) / 3.0f);
        std::memcpy(e, &v, 2);
        break;
      }
      case DataType::kInt32: {
        int32_t v = static_cast<int32_t>(integer(rng));
        std::memcpy(e, &v, 4);
        break;
      }
      case DataType::kInt64: {
        int64_t v = integer(rng) * 1000000007LL;
        std::memcpy(e, &v, 8);
        break;
      }
    }
  }
  return out;
}

template <typename T>
T ScalarOp(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return a + b;
    case ReduceOp::kMin:
      return std::isnan(static_cast<double>(a))   ? a
             : std::isnan(static_cast<double>(b)) ? b
                                                  : (a < b ? a : b);
    case ReduceOp::kMax:
      return std::isnan(static_cast<double>(a))   ? a
             : std::isnan(static_cast<double>(b)) ? b
                                                  : (a > b ? a : b);
  }
  return a;
}

// Calls native(T{}) for the types C++ computes in directly, and sixteen(widen, narrow) with the
// fp32 conversions of half.h for fp16 and bf16 (computed in fp32, rounded back each step).
template <typename Native, typename Sixteen>
void DispatchType(DataType type, Native&& native, Sixteen&& sixteen) {
  switch (type) {
    case DataType::kFloat32:
      return native(float{});
    case DataType::kFloat64:
      return native(double{});
    case DataType::kInt32:
      return native(int32_t{});
    case DataType::kInt64:
      return native(int64_t{});
    case DataType::kFloat16:
      return sixteen(HalfToFloat, FloatToHalf);
    case DataType::kBFloat16:
      return sixteen(BFloat16ToFloat, FloatToBFloat16);
  }
}

// One element: *inout = op(*inout, *in), the same operand order as ReduceFn.
inline void RefCombine(DataType type, ReduceOp op, std::byte* inout, const std::byte* in) {
  auto native = [&](auto tag) {
    using T = decltype(tag);
    T a, b;
    std::memcpy(&a, inout, sizeof(T));
    std::memcpy(&b, in, sizeof(T));
    T r = ScalarOp(op, a, b);
    std::memcpy(inout, &r, sizeof(T));
  };
  auto sixteen = [&](float (*to)(uint16_t), uint16_t (*from)(float)) {
    uint16_t a, b;
    std::memcpy(&a, inout, 2);
    std::memcpy(&b, in, 2);
    uint16_t r = from(ScalarOp(op, to(a), to(b)));
    std::memcpy(inout, &r, 2);
  };
  DispatchType(type, native, sixteen);
}

inline void RefFinalize(DataType type, ReduceOp op, std::byte* e, int n) {
  if (op != ReduceOp::kAvg) return;
  auto native = [&](auto tag) {
    using T = decltype(tag);
    T a;
    std::memcpy(&a, e, sizeof(T));
    a = a / static_cast<T>(n);
    std::memcpy(e, &a, sizeof(T));
  };
  auto sixteen = [&](float (*to)(uint16_t), uint16_t (*from)(float)) {
    uint16_t a;
    std::memcpy(&a, e, 2);
    a = from(to(a) / static_cast<float>(n));
    std::memcpy(e, &a, 2);
  };
  DispatchType(type, native, sixteen);
}

// Ring order: element i of block b starts at rank b+1 and is combined as op(local, partial) on
// ranks b+2, ..., b; the owner divides for kAvg.
inline Bytes RingReference(const std::vector<Bytes>& inputs, DataType type, ReduceOp op,
                           size_t count) {
  const int n = static_cast<int>(inputs.size());
  const size_t es = DataTypeSize(type);
  Bytes out(count * es);
  for (int b = 0; b < n; ++b) {
    const Range block = BlockRange(count, n, b);
    for (size_t i = block.offset; i < block.offset + block.count; ++i) {
      std::byte acc[8];
      std::memcpy(acc, inputs[(b + 1) % n].data() + i * es, es);
      for (int k = 2; k <= n; ++k) {
        std::byte local[8];
        std::memcpy(local, inputs[(b + k) % n].data() + i * es, es);
        RefCombine(type, op, local, acc);
        std::memcpy(acc, local, es);
      }
      RefFinalize(type, op, acc, n);
      std::memcpy(out.data() + i * es, acc, es);
    }
  }
  return out;
}

// Binomial tree order rooted at 0: acc(v) = x_v, then op(acc, acc(child)) for children v+1,
// v+2, v+4, ... (those below v's lowest set bit); rank 0 divides for kAvg.
inline void TreeAccumulate(const std::vector<Bytes>& inputs, DataType type, ReduceOp op, int v,
                           size_t i, std::byte* acc) {
  const int n = static_cast<int>(inputs.size());
  const size_t es = DataTypeSize(type);
  std::memcpy(acc, inputs[v].data() + i * es, es);
  const int lowbit = v == 0 ? n : (v & -v);
  for (int bit = 1; bit < lowbit && v + bit < n; bit <<= 1) {
    std::byte child[8];
    TreeAccumulate(inputs, type, op, v + bit, i, child);
    RefCombine(type, op, acc, child);
  }
}

inline Bytes TreeReference(const std::vector<Bytes>& inputs, DataType type, ReduceOp op,
                           size_t count) {
  const size_t es = DataTypeSize(type);
  Bytes out(count * es);
  for (size_t i = 0; i < count; ++i) {
    std::byte acc[8];
    TreeAccumulate(inputs, type, op, 0, i, acc);
    RefFinalize(type, op, acc, static_cast<int>(inputs.size()));
    std::memcpy(out.data() + i * es, acc, es);
  }
  return out;
}

}  // namespace crosslink::collectives::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_COLLECTIVE_TEST_UTIL_H_
