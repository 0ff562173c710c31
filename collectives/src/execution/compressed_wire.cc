#include "compressed_wire.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <tuple>

#include "crosslink/collectives/compression/wire_codec.h"

namespace crosslink::collectives::internal {
namespace {

bool IsReceive(StepOp op) { return op == StepOp::kRecv || op == StepOp::kRecvReduce; }

// Wire buffers of one size, reused across calls on the same thread so that a training loop's
// allreduces do not allocate (and fault in) fresh memory for every segment.
struct Pool {
  size_t bytes = 0;
  std::vector<std::unique_ptr<std::byte[]>> free;
};
Pool& ThreadPool() {
  thread_local Pool pool;
  return pool;
}

// Union of half-open element ranges, for "does a later receive write any of these elements".
class Coverage {
 public:
  bool Overlaps(size_t a, size_t b) const {
    auto it = ranges_.upper_bound(a);
    if (it != ranges_.begin() && std::prev(it)->second > a) return true;
    return it != ranges_.end() && it->first < b;
  }
  void Add(size_t a, size_t b) {
    auto it = ranges_.upper_bound(a);
    if (it != ranges_.begin() && std::prev(it)->second >= a) {
      --it;
      a = it->first;
      b = std::max(b, it->second);
      it = ranges_.erase(it);
    }
    while (it != ranges_.end() && it->first <= b) {
      b = std::max(b, it->second);
      it = ranges_.erase(it);
    }
    ranges_.emplace(a, b);
  }

 private:
  std::map<size_t, size_t> ranges_;  // start -> end, disjoint and not touching
};

}  // namespace

CompressedWire::CompressedWire(const Plan& plan, const std::vector<Step>& steps,
                               const std::vector<std::vector<int>>& deps, float* data,
                               float* residual)
    : plan_(plan),
      steps_(steps),
      data_(data),
      residual_(residual),
      reduce_(GetReduceFn(DataType::kFloat32, plan.op)) {
  const size_t n = steps.size();
  source_.assign(n, -1);
  forwards_.assign(n, 0);
  final_.assign(n, 0);
  wires_.resize(n);
  Coverage later_receives;
  for (size_t i = n; i-- > 0;) {
    const Step& s = steps[i];
    if (s.count == 0) continue;
    if (IsReceive(s.op)) later_receives.Add(s.offset, s.offset + s.count);
    if (s.op == StepOp::kSend) final_[i] = !later_receives.Overlaps(s.offset, s.offset + s.count);
  }
  // Sends with the same elements and the same last writers carry the same content.
  std::map<std::tuple<size_t, size_t, std::vector<int>>, int> first_send;
  for (size_t i = 0; i < n; ++i) {
    const Step& s = steps[i];
    if (s.op != StepOp::kSend || s.count == 0) continue;
    int source = static_cast<int>(i);
    if (deps[i].size() == 1 && steps[deps[i][0]].op != StepOp::kSend &&
        steps[deps[i][0]].offset == s.offset && steps[deps[i][0]].count == s.count) {
      source = deps[i][0];
    } else {
      source =
          first_send.emplace(std::make_tuple(s.offset, s.count, deps[i]), source).first->second;
    }
    source_[i] = source;
    ++forwards_[source];
  }
}

CompressedWire::~CompressedWire() {
  for (Wire& w : wires_) {
    if (w.buffer != nullptr) Give(w.buffer);
  }
}

size_t CompressedWire::WireBytes(size_t count) const {
  return collectives::WireBytes(plan_.compression, count);
}

void CompressedWire::SetBufferBytes(size_t bytes) {
  buffer_bytes_ = bytes;
  for (const Step& s : steps_) {
    if (s.op == StepOp::kSend) buffer_bytes_ = std::max(buffer_bytes_, WireBytes(s.count));
  }
}

std::byte* CompressedWire::Take() {
  Pool& pool = ThreadPool();
  if (pool.bytes != buffer_bytes_) {
    pool.free.clear();
    pool.bytes = buffer_bytes_;
  }
  if (pool.free.empty()) return new std::byte[buffer_bytes_];
  std::byte* b = pool.free.back().release();
  pool.free.pop_back();
  return b;
}

void CompressedWire::Give(std::byte* buffer) {
  Pool& pool = ThreadPool();
  if (pool.bytes == buffer_bytes_) {
    pool.free.emplace_back(buffer);
  } else {
    delete[] buffer;
  }
}

absl::Span<std::byte> CompressedWire::RecvBuffer(int i) {
  Wire& w = wires_[i];
  w.buffer = Take();
  return absl::Span<std::byte>(w.buffer, buffer_bytes_);
}

void CompressedWire::FinishRecv(int i, const std::byte* slot, uint32_t crc) {
  const Step& s = steps_[i];
  float* dst = data_ + s.offset;
  if (s.op == StepOp::kRecvReduce) {
    DecodeReduceWire(plan_.compression, slot, s.count, reduce_, dst);
    return;
  }
  Wire& w = wires_[i];
  DecodeWire(plan_.compression, w.buffer, s.count, dst);
  w.bytes = WireBytes(s.count);
  w.ready = true;
  w.crc_known = true;
  w.crc = crc;
  w.refs = forwards_[i];
  if (w.refs == 0) {
    Give(w.buffer);
    w.buffer = nullptr;
  }
}

CompressedWire::Payload CompressedWire::SendPayload(int i) {
  const Step& s = steps_[i];
  if (s.count == 0) return Payload{};
  const int source = source_[i];
  Wire& w = wires_[source];
  if (!w.ready) {
    w.buffer = Take();
    w.bytes = WireBytes(s.count);
    float* values = data_ + s.offset;
    EncodeWire(plan_.compression, values, s.count,
               residual_ != nullptr ? residual_ + s.offset : nullptr, w.buffer);
    if (final_[i]) DecodeWire(plan_.compression, w.buffer, s.count, values);
    w.ready = true;
    w.refs = forwards_[source];
  }
  return Payload{absl::Span<const std::byte>(w.buffer, w.bytes), w.crc_known, w.crc};
}

void CompressedWire::SendDone(int i) {
  if (steps_[i].count == 0) return;
  Wire& w = wires_[source_[i]];
  if (--w.refs == 0 && w.buffer != nullptr) {
    Give(w.buffer);
    w.buffer = nullptr;
  }
}

}  // namespace crosslink::collectives::internal
