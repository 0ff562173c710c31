#include "crosslink/collectives/executor.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abort_protocol.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "compressed_wire.h"
#include "crosslink/collectives/reduce.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "step_dependencies.h"

namespace crosslink::collectives {
namespace {

// A received segment is reduced into the caller's buffer this many bytes at a time, each piece
// checksummed right after while it is still in L1: the ring forwards that very segment next, and
// the transport then need not read it from memory again for the frame's CRC32C.
constexpr size_t kFusedPieceBytes = 16 << 10;  // a multiple of every element size

// How long a rank that caught a disagreement waits for the disagreeing peer's remaining frames or
// its abort (Executor::Finish). A running peer reads the abort and answers within tens of
// milliseconds (the executor polls every 20 ms); one second leaves room for a loaded machine.
constexpr absl::Duration kDisagreeingPeerLinger = absl::Seconds(1);

// Staging memory, reused across calls on the same thread (a rank's collectives run one at a time
// on its thread), so small latency-bound collectives do not pay an allocation each.
std::byte* ThreadScratch(size_t bytes) {
  thread_local std::unique_ptr<std::byte[]> buffer;
  thread_local size_t capacity = 0;
  if (capacity < bytes) {
    buffer.reset(new std::byte[bytes]);
    capacity = bytes;
  }
  return buffer.get();
}

// Reduce-on-receive (Connection::RecvPieces): a received segment is reduced into the caller's
// buffer piece by piece as the transport hands it over from its cache-sized scratch, so the
// bytes are read once, not written whole into a staging slot and read back; each reduced piece
// is checksummed while in L1, as FinishRecv does for a staged segment. Runs on the transport's
// receiver thread; the executor reads crc() after the receive completed (its completion orders
// the two). Bytes beyond the step's elements (a longer frame from a peer that disagrees, which
// CheckArrival then reports) are dropped, never written past the step's elements.
class ReduceSink final : public PieceSink {
 public:
  ReduceSink(ReduceFn reduce, std::byte* dst, size_t bytes, size_t elem)
      : reduce_(reduce), dst_(dst), bytes_(bytes), elem_(elem) {}

  void Consume(uint64_t offset, absl::Span<const std::byte> piece) override {
    if (offset >= bytes_) return;
    size_t n = std::min<uint64_t>(piece.size(), bytes_ - offset);
    n -= n % elem_;  // a whole element at a time (a malformed length fails the step anyway)
    std::byte* dst = dst_ + offset;
    for (size_t done = 0; done < n; done += kFusedPieceBytes) {
      const size_t k = std::min(kFusedPieceBytes, n - done);
      reduce_(dst + done, piece.data() + done, k / elem_);
      crc_ = Crc32c(absl::MakeConstSpan(dst + done, k), crc_);
    }
  }
  // CRC32C of the reduced elements; valid once the receive succeeded (every byte consumed).
  uint32_t crc() const { return crc_; }

 private:
  const ReduceFn reduce_;
  std::byte* const dst_;
  const size_t bytes_;
  const size_t elem_;
  uint32_t crc_ = 0;
};

class Executor {
 public:
  explicit Executor(const ExecuteArgs& args)
      : args_(args),
        plan_(*args.plan),
        rank_(args.rank),
        names_(args.rank_names.size() == static_cast<size_t>(args.plan->world_size)
                   ? args.rank_names
                   : absl::Span<const int>()),
        elem_(DataTypeSize(plan_.type)),
        signature_(PlanSignature(plan_)),
        data_(static_cast<std::byte*>(args.data)),
        abort_(rank_, names_, args.connections, args.job_id, args.sequence) {}

  absl::Status Run();

 private:
  struct StepState {
    bool posted = false;
    bool arrived = false;  // receive completed and its header checked; the reduce may still wait
    bool done = false;
    bool staged = false;  // plain receive that lands in a slot first (first frame of a peer)
    int slot = -1;
    // A reduce posted as a piece receive (reduce-on-receive): no slot; the transport reduces.
    std::shared_ptr<ReduceSink> sink;
    std::shared_ptr<Handle> send;
    std::shared_ptr<RecvHandle> recv;
  };
  struct Peer {
    std::vector<int> sends, recvs;  // step indices in plan order
    size_t send_posted = 0, send_done = 0, recv_posted = 0, recv_done = 0;
    bool broken = false;  // its connection failed; nothing more can go over it
  };

  absl::Status Validate() const;
  void Setup();
  bool DepsDone(int i) const;
  void Pump(bool& progress);
  void PostRecv(int i);
  // Whether step i may be posted as a piece receive now: an uncompressed reduce over a transport
  // that receives in pieces, whose dependencies are done (the transport reduces into the
  // elements as the bytes arrive, so nothing else may still read or write them).
  bool ReducesOnReceive(int i) const;
  void PostSend(int i);
  void RunLocal(int i);
  bool CheckArrival(int i);  // false: failure recorded
  void FinishRecv(int i);
  // Records a failure this rank detected at step i (-1: at none); see AbortProtocol::Fail.
  void FailAt(int i, absl::StatusCode code, int culprit, std::string what, int wait_peer = -1);
  void FailWaiting(int i);
  int OldestOutstanding(int exclude) const;
  void FailTransport(int i, const absl::Status& status);
  std::string StepLabel(int i) const;
  absl::Status Finish();
  // A status of `code` whose message names this rank and the collective before `what`.
  absl::Status MakeStatus(absl::StatusCode code, std::string_view what) const;
  Connection* Conn(int peer) const { return args_.connections[peer]; }
  std::byte* Slot(int slot) const { return scratch_ + static_cast<size_t>(slot) * slot_bytes_; }
  FrameHeader Header(uint32_t chunk) const {
    FrameHeader h;
    h.job_id = args_.job_id;
    h.sequence = args_.sequence;
    h.chunk = chunk;
    h.tag = signature_;
    return h;
  }

  const ExecuteArgs& args_;
  const Plan& plan_;
  const int rank_;
  const internal::RankNames names_;  // every rank a message names goes through it
  const size_t elem_;
  const uint32_t signature_;
  std::byte* const data_;
  const std::vector<Step>* steps_ = nullptr;
  std::vector<std::vector<int>> deps_;
  std::vector<StepState> state_;
  // Per writing step: the CRC32C of the elements it wrote, when known (crc_known_), so that a
  // send of exactly those elements can hand it to the transport (SendWithCrc).
  std::vector<uint32_t> written_crc_;
  std::vector<char> crc_known_;
  std::map<int, Peer> peers_;
  std::vector<int> locals_;
  size_t next_local_ = 0;
  size_t done_count_ = 0;
  std::byte* scratch_ = nullptr;
  size_t slot_bytes_ = 0;
  std::vector<int> free_slots_;
  absl::Time give_up_;  // deadline minus the margin kept for telling peers who is at fault
  // Plans with compression only (compressed_wire.h); nullptr on the uncompressed path.
  std::unique_ptr<internal::CompressedWire> wire_;
  // The failure, and the frames that report it to the other ranks (abort_protocol.h).
  internal::AbortProtocol abort_;
};

absl::Status Executor::Validate() const {
  const int n = plan_.world_size;
  auto bad = [&](std::string what) { return MakeStatus(absl::StatusCode::kInvalidArgument, what); };
  if (rank_ < 0 || rank_ >= n || static_cast<int>(plan_.ranks.size()) != n) {
    return bad(absl::StrFormat("rank outside the plan's world size %d (plan has %u step lists)", n,
                               plan_.ranks.size()));
  }
  if (static_cast<int>(args_.connections.size()) != n) {
    return bad(absl::StrFormat("%u connections for world size %d", args_.connections.size(), n));
  }
  if (!args_.rank_names.empty() && static_cast<int>(args_.rank_names.size()) != n) {
    return bad(absl::StrFormat("%u rank names for world size %d", args_.rank_names.size(), n));
  }
  if (data_ == nullptr && plan_.count > 0) return bad("data buffer is null");
  if (plan_.compression != WireCompression::kNone && plan_.type != DataType::kFloat32) {
    return bad(
        absl::StrFormat("wire compression of %s data (float32 only)", DataTypeName(plan_.type)));
  }
  const bool reads_input = plan_.input_count > 0;
  if (reads_input) {
    if (plan_.compression != WireCompression::kNone) {
      return bad("wire compression of a plan that sends from its input (alltoall)");
    }
    if (args_.input == nullptr) return bad("input buffer is null");
    // Receives land in data while sends still read the input: the two must not share bytes.
    const auto* in = static_cast<const std::byte*>(args_.input);
    const std::byte* in_end = in + plan_.input_count * elem_;
    const std::byte* data_end = data_ + plan_.count * elem_;
    if (plan_.count > 0 && in < data_end && data_ < in_end) {
      return bad(absl::StrFormat(
          "input (%u elements) and output (%u elements) overlap; an alltoall cannot run in place",
          plan_.input_count, plan_.count));
    }
  }
  for (const Step& s : plan_.ranks[rank_]) {
    if (IsSendOp(s.op) || s.op == StepOp::kRecv || s.op == StepOp::kRecvReduce) {
      if (s.peer < 0 || s.peer >= n || s.peer == rank_ || args_.connections[s.peer] == nullptr) {
        return bad(
            absl::StrFormat("plan talks to rank %d, which has no connection", names_(s.peer)));
      }
    }
    if ((s.op == StepOp::kSendInput || (s.op == StepOp::kCopy && reads_input)) &&
        (s.src_offset > plan_.input_count || s.count > plan_.input_count - s.src_offset)) {
      return bad(absl::StrFormat("step reads input[%u,+%u) of a %u-element input", s.src_offset,
                                 s.count, plan_.input_count));
    }
    if (s.op != StepOp::kSendInput &&
        (s.offset > plan_.count || s.count > plan_.count - s.offset)) {
      return bad(absl::StrFormat("step covers [%u,+%u) of a %u-element buffer", s.offset, s.count,
                                 plan_.count));
    }
  }
  return absl::OkStatus();
}

void Executor::Setup() {
  steps_ = &plan_.ranks[rank_];
  const std::vector<Step>& steps = *steps_;
  deps_ = internal::ComputeStepDependencies(steps);
  state_.resize(steps.size());
  written_crc_.assign(steps.size(), 0);
  crc_known_.assign(steps.size(), 0);
  if (plan_.compression != WireCompression::kNone) {
    float* residual = args_.error_feedback != nullptr
                          ? args_.error_feedback->Prepare(plan_.count, plan_.compression)
                          : nullptr;
    wire_ = std::make_unique<internal::CompressedWire>(plan_, steps, deps_,
                                                       reinterpret_cast<float*>(data_), residual);
  }
  size_t max_bytes = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    switch (s.op) {
      case StepOp::kSend:
      case StepOp::kSendInput:
        peers_[s.peer].sends.push_back(static_cast<int>(i));
        break;
      case StepOp::kRecv:
      case StepOp::kRecvReduce: {
        Peer& p = peers_[s.peer];
        // Compressed plain receives land in buffers of their own (compressed_wire.h).
        if (p.recvs.empty() && s.op == StepOp::kRecv && !wire_) state_[i].staged = true;
        p.recvs.push_back(static_cast<int>(i));
        max_bytes = std::max(max_bytes, wire_ ? wire_->WireBytes(s.count) : s.count * elem_);
        break;
      }
      case StepOp::kCopy:
      case StepOp::kFinalize:
        locals_.push_back(static_cast<int>(i));
        break;
    }
  }
  // Slots: enough for every peer's window of staged receives. A slot holds a full segment of the
  // segment limit even when this rank expects less, so that a disagreeing peer's larger first
  // frame still fits and is reported as a disagreement rather than as a broken connection.
  slot_bytes_ = std::max({max_bytes, plan_.max_segment_bytes, size_t{16}});
  slot_bytes_ = (slot_bytes_ + 63) & ~size_t{63};
  if (wire_) wire_->SetBufferBytes(slot_bytes_);
  size_t slots = 0;
  for (auto& [peer, p] : peers_) {
    size_t staged = 0;
    for (int i : p.recvs) staged += (steps[i].op == StepOp::kRecvReduce || state_[i].staged);
    slots += std::min<size_t>(kRecvWindow, staged);
  }
  scratch_ = ThreadScratch(slots * slot_bytes_);
  for (size_t s = slots; s-- > 0;) free_slots_.push_back(static_cast<int>(s));
}

bool Executor::DepsDone(int i) const {
  for (int d : deps_[i]) {
    if (!state_[d].done) return false;
  }
  return true;
}

bool Executor::ReducesOnReceive(int i) const {
  const Step& s = (*steps_)[i];
  return s.op == StepOp::kRecvReduce && !wire_ && s.count > 0 && Conn(s.peer)->ReceivesInPieces() &&
         DepsDone(i);
}

void Executor::PostRecv(int i) {
  const Step& s = (*steps_)[i];
  StepState& st = state_[i];
  if (ReducesOnReceive(i)) {
    st.sink = std::make_shared<ReduceSink>(GetReduceFn(plan_.type, plan_.op),
                                           data_ + s.offset * elem_, s.count * elem_, elem_);
    // The room of a slot, as for a staged receive: a disagreeing peer's longer frame is then
    // reported as a disagreement (CheckArrival) rather than as a broken connection.
    st.recv = Conn(s.peer)->RecvPieces(slot_bytes_, st.sink);
    st.posted = true;
    return;
  }
  absl::Span<std::byte> buffer;
  if (s.op == StepOp::kRecvReduce || st.staged) {
    st.slot = free_slots_.back();
    free_slots_.pop_back();
    buffer = absl::Span<std::byte>(Slot(st.slot), slot_bytes_);
  } else if (wire_) {
    buffer = wire_->RecvBuffer(i);
  } else {
    buffer = absl::Span<std::byte>(data_ + s.offset * elem_, s.count * elem_);
  }
  st.recv = Conn(s.peer)->Recv(buffer);
  st.posted = true;
}

void Executor::PostSend(int i) {
  const Step& s = (*steps_)[i];
  StepState& st = state_[i];
  if (wire_) {
    const internal::CompressedWire::Payload wire = wire_->SendPayload(i);
    st.send = wire.crc_known ? Conn(s.peer)->SendWithCrc(Header(s.chunk), wire.bytes, wire.crc)
                             : Conn(s.peer)->Send(Header(s.chunk), wire.bytes);
    st.posted = true;
    return;
  }
  if (s.op == StepOp::kSendInput) {
    const auto* input = static_cast<const std::byte*>(args_.input);
    st.send = Conn(s.peer)->Send(
        Header(s.chunk),
        absl::Span<const std::byte>(input + s.src_offset * elem_, s.count * elem_));
    st.posted = true;
    return;
  }
  const absl::Span<const std::byte> payload(data_ + s.offset * elem_, s.count * elem_);
  // The CRC is known when one earlier step wrote exactly these elements last and recorded it
  // (the ring's reduce-then-forward and receive-then-forward); deps_ lists a send's last writers.
  const std::vector<int>& writers = deps_[i];
  if (s.count > 0 && writers.size() == 1 && crc_known_[writers[0]] &&
      (*steps_)[writers[0]].offset == s.offset && (*steps_)[writers[0]].count == s.count) {
    st.send = Conn(s.peer)->SendWithCrc(Header(s.chunk), payload, written_crc_[writers[0]]);
  } else {
    st.send = Conn(s.peer)->Send(Header(s.chunk), payload);
  }
  st.posted = true;
}

void Executor::RunLocal(int i) {
  const Step& s = (*steps_)[i];
  if (s.op == StepOp::kCopy) {
    const std::byte* src = static_cast<const std::byte*>(args_.input);
    std::byte* dst = data_ + s.offset * elem_;
    if (src != nullptr && src + s.src_offset * elem_ != dst && s.count > 0) {
      std::memmove(dst, src + s.src_offset * elem_, s.count * elem_);
    }
  } else if (FinalizeFn fn = GetFinalizeFn(plan_.type, plan_.op); fn != nullptr && s.count > 0) {
    fn(data_ + s.offset * elem_, s.count, plan_.world_size);
  }
  state_[i].done = true;
  ++done_count_;
}

std::string Executor::StepLabel(int i) const {
  const Step& s = (*steps_)[i];
  const char* dir = IsSendOp(s.op) ? "to" : "from";
  return absl::StrFormat("step #%d (%s %s rank %d, chunk %u, %u elements)", i, StepOpName(s.op),
                         dir, names_(s.peer), s.chunk, s.count);
}

void Executor::FailAt(int i, absl::StatusCode code, int culprit, std::string what, int wait_peer) {
  abort_.Fail(code, culprit, i >= 0 ? absl::StrCat(StepLabel(i), ": ", what) : std::move(what),
              wait_peer);
}

void Executor::FailTransport(int i, const absl::Status& status) {
  const Step& s = (*steps_)[i];
  peers_[s.peer].broken = true;
  std::string conn = Conn(s.peer)->Describe();
  const int peer = names_(s.peer);
  if (status.code() == absl::StatusCode::kInvalidArgument && !IsSendOp(s.op)) {
    FailAt(i, absl::StatusCode::kInvalidArgument, s.peer,
           absl::StrFormat("rank %d sent a frame longer than the %u bytes this rank posted: ranks "
                           "%d and %d disagree on the collective's arguments [%s: %s]",
                           peer, slot_bytes_, names_(rank_), peer, conn, status.message()));
  } else if (status.code() == absl::StatusCode::kDataLoss) {
    FailAt(i, absl::StatusCode::kDataLoss, s.peer,
           absl::StrFormat("corrupted frame from rank %d [%s: %s]", peer, conn, status.message()));
  } else {
    FailAt(i, absl::StatusCode::kUnavailable, s.peer,
           absl::StrFormat("connection to rank %d failed [%s: %s]", peer, conn, status.message()));
  }
}

bool Executor::CheckArrival(int i) {
  const Step& s = (*steps_)[i];
  StepState& st = state_[i];
  const absl::Status status = st.recv->Wait(absl::InfiniteFuture());
  if (!status.ok()) {
    FailTransport(i, status);
    return false;
  }
  const FrameHeader& h = st.recv->header();
  if (h.chunk == kAbortChunk && h.job_id == args_.job_id) {
    // The wait chain (abort_protocol.h): if a peer gave up waiting for this rank while this rank
    // is itself stuck behind someone, report its own wait instead, so the chain of notices leads
    // to the rank at its end rather than to a rank that was merely the next link.
    const int waiting =
        internal::AbortProtocol::BlamesForTimeout(h, rank_) ? OldestOutstanding(i) : -1;
    if (waiting >= 0 && (*steps_)[waiting].peer != s.peer) {
      FailWaiting(waiting);
    } else {
      abort_.FailFromAbort(s.peer, h);
    }
    return false;
  }
  const size_t bytes = wire_ ? wire_->WireBytes(s.count) : s.count * elem_;
  std::string what;
  if (h.job_id != args_.job_id) {
    what = absl::StrFormat("frame of job %u, this rank runs job %u", h.job_id, args_.job_id);
  } else if (h.sequence != args_.sequence) {
    what = absl::StrFormat("frame of collective seq %u, this rank runs seq %u", h.sequence,
                           args_.sequence);
  } else if (h.tag != signature_) {
    what = absl::StrFormat(
        "rank %d's frame carries signature 0x%08x, this rank's is 0x%08x: ranks %d and %d disagree "
        "on the collective's arguments (count %u, %s, %s, %s here)",
        names_(s.peer), h.tag, signature_, names_(rank_), names_(s.peer), plan_.count,
        DataTypeName(plan_.type), ReduceOpName(plan_.op), plan_.algorithm);
  } else if (h.chunk != s.chunk || h.length != bytes) {
    what = absl::StrFormat(
        "rank %d sent chunk %u of %u bytes, expected chunk %u of %u bytes: ranks %d and %d "
        "disagree on the collective's arguments%s",
        names_(s.peer), h.chunk, h.length, s.chunk, bytes, names_(rank_), names_(s.peer),
        plan_.kind == CollectiveKind::kAlltoall ? " (the split sizes for each other)" : "");
  } else {
    st.arrived = true;
    return true;
  }
  FailAt(i, absl::StatusCode::kInvalidArgument, s.peer, std::move(what));
  return false;
}

void Executor::FinishRecv(int i) {
  const Step& s = (*steps_)[i];
  StepState& st = state_[i];
  if (wire_) {
    wire_->FinishRecv(i, st.slot >= 0 ? Slot(st.slot) : nullptr, st.recv->header().crc32c);
    if (st.slot >= 0) free_slots_.push_back(st.slot);
    st.slot = -1;
    st.done = true;
    ++done_count_;
    return;
  }
  if (st.sink != nullptr) {
    // Reduced as it arrived; the transport verified the payload's CRC before completing.
    written_crc_[i] = st.sink->crc();
    crc_known_[i] = 1;
    st.sink.reset();
    st.done = true;
    ++done_count_;
    return;
  }
  if (s.op != StepOp::kRecvReduce) {
    // The transport verified the payload against the frame's CRC: it is these elements' CRC.
    written_crc_[i] = st.recv->header().crc32c;
    crc_known_[i] = 1;
  }
  if (st.slot >= 0) {
    std::byte* dst = data_ + s.offset * elem_;
    if (s.count > 0) {
      if (s.op == StepOp::kRecvReduce) {
        const ReduceFn reduce = GetReduceFn(plan_.type, plan_.op);
        const std::byte* src = Slot(st.slot);
        const size_t bytes = s.count * elem_;
        uint32_t crc = 0;
        for (size_t done = 0; done < bytes; done += kFusedPieceBytes) {
          const size_t piece = std::min(kFusedPieceBytes, bytes - done);
          reduce(dst + done, src + done, piece / elem_);
          crc = Crc32c(absl::MakeConstSpan(dst + done, piece), crc);
        }
        written_crc_[i] = crc;
        crc_known_[i] = 1;
      } else {
        std::memcpy(dst, Slot(st.slot), s.count * elem_);
      }
    }
    free_slots_.push_back(st.slot);
    st.slot = -1;
  }
  st.done = true;
  ++done_count_;
}

void Executor::Pump(bool& progress) {
  const std::vector<Step>& steps = *steps_;
  // Receives first, on every peer, so that buffers are posted before our sends make peers send.
  for (auto& [peer, p] : peers_) {
    while (p.recv_done < p.recv_posted) {
      const int i = p.recvs[p.recv_done];
      if (!state_[i].arrived) {
        if (!state_[i].recv->Done()) break;
        if (!CheckArrival(i)) return;
        progress = true;
      }
      if (!DepsDone(i)) break;
      FinishRecv(i);
      ++p.recv_done;
      progress = true;
    }
    while (p.recv_posted < p.recvs.size() && p.recv_posted - p.recv_done < kRecvWindow) {
      const int i = p.recvs[p.recv_posted];
      const bool needs_slot =
          (steps[i].op == StepOp::kRecvReduce && !ReducesOnReceive(i)) || state_[i].staged;
      if (needs_slot ? free_slots_.empty() : !DepsDone(i)) break;
      PostRecv(i);
      ++p.recv_posted;
      progress = true;
    }
  }
  for (auto& [peer, p] : peers_) {
    while (p.send_done < p.send_posted) {
      const int i = p.sends[p.send_done];
      if (!state_[i].send->Done()) break;
      const absl::Status status = state_[i].send->Wait(absl::InfiniteFuture());
      if (!status.ok()) return FailTransport(i, status);
      if (wire_) wire_->SendDone(i);
      state_[i].done = true;
      ++done_count_;
      ++p.send_done;
      progress = true;
    }
    while (p.send_posted < p.sends.size()) {
      const int i = p.sends[p.send_posted];
      if (!DepsDone(i)) break;
      PostSend(i);
      ++p.send_posted;
      progress = true;
    }
  }
  while (next_local_ < locals_.size() && DepsDone(locals_[next_local_])) {
    RunLocal(locals_[next_local_++]);
    progress = true;
  }
}

int Executor::OldestOutstanding(int exclude) const {
  int oldest = -1;
  for (const auto& [peer, p] : peers_) {
    if (p.send_done < p.send_posted) {
      const int i = p.sends[p.send_done];
      if (i != exclude && (oldest < 0 || i < oldest)) oldest = i;
    }
    for (size_t k = p.recv_done; k < p.recv_posted; ++k) {
      const int i = p.recvs[k];
      if (i == exclude || state_[i].arrived) continue;
      if (oldest < 0 || i < oldest) oldest = i;
      break;
    }
  }
  return oldest;
}

void Executor::FailWaiting(int i) {
  const Step& s = (*steps_)[i];
  const int peer = names_(s.peer);
  FailAt(i, absl::StatusCode::kDeadlineExceeded, s.peer,
         IsSendOp(s.op)
             ? absl::StrFormat("send to rank %d did not complete before the deadline", peer)
             : absl::StrFormat("no message from rank %d before the deadline", peer),
         s.peer);
}

absl::Status Executor::Run() {
  if (absl::Status s = Validate(); !s.ok()) return s;
  Setup();
  const absl::Time start = absl::Now();
  const absl::Duration margin =
      std::min(absl::Seconds(1), std::max(absl::ZeroDuration(), (args_.deadline - start) / 10));
  give_up_ = args_.deadline - margin;
  const size_t total = steps_->size();
  while (done_count_ < total && !abort_.failed()) {
    bool progress = false;
    Pump(progress);
    if (abort_.failed() || done_count_ == total || progress) continue;
    // Nothing to do until a message arrives or a send drains: wait on the oldest outstanding
    // operation, which is what the plan needs first.
    const int oldest = OldestOutstanding(-1);
    if (oldest < 0) {
      FailAt(-1, absl::StatusCode::kInternal, rank_,
             absl::StrFormat("plan cannot progress: %u of %u steps done and nothing outstanding",
                             done_count_, total));
      break;
    }
    const absl::Time now = absl::Now();
    const StepState& st = state_[oldest];
    Handle* handle = st.send ? static_cast<Handle*>(st.send.get()) : st.recv.get();
    if (now >= give_up_ && !handle->Done()) {
      FailWaiting(oldest);
      break;
    }
    // Bounded waits so that an abort arriving on another connection is seen within ~20 ms even
    // while this handle stays silent.
    (void)handle->Wait(std::min(give_up_, now + absl::Milliseconds(20)));
  }
  if (!abort_.failed()) return absl::OkStatus();
  return Finish();
}

absl::Status Executor::MakeStatus(absl::StatusCode code, std::string_view what) const {
  return absl::Status(code,
                      absl::StrFormat("rank %d: %s %s seq %u: %s", names_(rank_), plan_.algorithm,
                                      CollectiveKindName(plan_.kind), args_.sequence, what));
}

absl::Status Executor::Finish() {
  // Tell every peer this rank sends to, then wait for the peers that still owe frames.
  std::vector<int> flood;
  std::map<int, std::vector<std::shared_ptr<RecvHandle>>> owed;
  // A peer whose frames disagreed with this rank's plan (its splits or count differ) may have
  // completed its own plan (an alltoall's sender, a broadcast's root) and then never sends the
  // frames this rank still expects, nor an abort: it is waited for kDisagreeingPeerLinger at
  // most, not until the deadline. A peer still running answers our abort well within it.
  const int disagreeing =
      abort_.detected_here() && abort_.failure().code == absl::StatusCode::kInvalidArgument
          ? abort_.failure().culprit
          : -1;
  std::map<int, std::vector<std::shared_ptr<RecvHandle>>> owed_by_disagreeing;
  for (auto& [peer, p] : peers_) {
    if (p.broken) continue;
    if (!p.sends.empty()) flood.push_back(peer);
    std::vector<std::shared_ptr<RecvHandle>>& pending =
        peer == disagreeing ? owed_by_disagreeing[peer] : owed[peer];
    for (size_t k = p.recv_done; k < p.recv_posted; ++k) {
      const StepState& st = state_[p.recvs[k]];
      if (!st.arrived) pending.push_back(st.recv);
    }
  }
  abort_.Flood(std::move(flood));
  abort_.Linger(std::move(owed), slot_bytes_, args_.deadline);
  if (!owed_by_disagreeing.empty()) {
    abort_.Linger(std::move(owed_by_disagreeing), slot_bytes_,
                  std::min(args_.deadline, absl::Now() + kDisagreeingPeerLinger));
  }
  absl::StatusCode code = abort_.failure().code;
  // A corruption another rank caught: this rank's frames were intact (executor.h).
  if (code == absl::StatusCode::kDataLoss && !abort_.detected_here()) {
    code = absl::StatusCode::kAborted;
  }
  const absl::Status status = MakeStatus(code, abort_.Report());
  // Let the abort frames leave before deciding which connections still hold our operations.
  abort_.AwaitSent(absl::Now() + absl::Milliseconds(500));
  for (auto& [peer, p] : peers_) {
    bool pending = false;
    for (size_t k = p.send_done; k < p.send_posted; ++k) {
      pending |= !state_[p.sends[k]].send->Done();
    }
    for (size_t k = p.recv_done; k < p.recv_posted; ++k) {
      pending |= !state_[p.recvs[k]].recv->Done();
    }
    pending |= abort_.Pending(peer);
    if (pending) Conn(peer)->Close(status);
  }
  abort_.ReleaseSends(absl::Seconds(1));
  // The transport must be done with every buffer we lent it before this returns.
  for (auto& [peer, p] : peers_) {
    for (size_t k = p.send_done; k < p.send_posted; ++k) {
      (void)state_[p.sends[k]].send->Wait(absl::Now() + absl::Seconds(1));
    }
    for (size_t k = p.recv_done; k < p.recv_posted; ++k) {
      (void)state_[p.recvs[k]].recv->Wait(absl::Now() + absl::Seconds(1));
    }
    abort_.ReleaseRecvs(peer, absl::Seconds(1));
  }
  return status;
}

}  // namespace

uint32_t PlanSignature(const Plan& plan) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  auto mix = [&h](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xFF;
      h *= 1099511628211ull;
    }
  };
  for (char c : plan.algorithm) mix(static_cast<unsigned char>(c));
  mix(static_cast<uint64_t>(plan.kind));
  mix(static_cast<uint64_t>(plan.world_size));
  // An uneven alltoall's buffers differ between ranks by design; its blocks' sizes are checked
  // per message instead (chunk numbers and lengths, alltoall.cc). Every other kind keeps its
  // count in the signature.
  if (plan.kind != CollectiveKind::kAlltoall) mix(plan.count);
  mix(static_cast<uint64_t>(plan.type));
  mix(static_cast<uint64_t>(plan.op));
  mix(static_cast<uint64_t>(plan.root));
  mix(plan.max_segment_bytes);
  // Mixed in only when set, so uncompressed plans keep the signature they always had.
  if (plan.compression != WireCompression::kNone) mix(static_cast<uint64_t>(plan.compression));
  return static_cast<uint32_t>(h ^ (h >> 32));
}

absl::Status ExecutePlan(const ExecuteArgs& args) {
  if (args.plan == nullptr) return absl::InvalidArgumentError("ExecutePlan: plan is null");
  Executor executor(args);
  return executor.Run();
}

}  // namespace crosslink::collectives
