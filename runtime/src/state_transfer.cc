// Communicator::SyncState: live recovery of a rejoined rank's training state from a healthy peer
// (communicator.h says what a program sees). Four steps, all within one membership epoch:
//
// 1. Who holds what: every live rank writes one line under crosslink/state/<epoch>/<round>/<rank>
//    (a transient key): whether it holds state, its buffers' layout (count, total bytes, a digest
//    of the sizes), its state hash, and what it has staged from an earlier, cut transfer (that
//    state's hash and how many bytes). Then the coordinator barrier crosslink/state with the
//    epoch (all-or-none, as Quorum's), then every rank reads every live rank's line, so every rank
//    derives the same plan: the source is the lowest live rank that holds state; the receivers are
//    the ranks without state whose layout is the source's; a rank without state whose layout
//    differs is refused (it gets kInvalidArgument, its buffers untouched; the others go on).
// 2. The transfer: the source packs its buffers and sends each receiver the bytes from where that
//    receiver's staging stops (0, or its staged count when it staged this very state: same
//    hash), in chunks of StateSyncOptions::chunk_bytes, as frames of one collective sequence
//    number over the mesh's connections (CRC32C-checked by the transport). The receiver writes
//    them into its staging copy, counting the bytes that arrived in order, so a transfer that a
//    death cuts resumes at the next call.
// 3. The receiver checks its staged copy's hash against the source's line and only then copies
//    it into its buffers: a cut or corrupted transfer never leaves mixed state.
// 4. The check: an int64 kSum allreduce over the live ranks of a vector with one slot per rank,
//    in which each rank writes its state hash (62 bits, so the sum never overflows; 0 for a
//    refused rank): every rank sees every hash and compares them with the source's. A mismatch is
//    kDataLoss naming the ranks.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {
namespace {

// A chunk is one message; the transports bound a message's length well above this.
constexpr size_t kMaxChunkBytes = size_t{64} << 20;
// The hash travels in an int64 sum with one non-zero slot per rank: 62 bits keep it positive.
constexpr uint64_t kHashMask = (uint64_t{1} << 62) - 1;
// Tag of the transfer's frames (the sequence number keeps them apart from the collectives').
constexpr uint32_t kStateTag = 0x57A7E;

uint64_t Fnv1a(uint64_t hash, const std::byte* data, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) {
    hash ^= static_cast<uint8_t>(data[i]);
    hash *= 1099511628211ull;
  }
  return hash;
}

constexpr uint64_t kFnvBasis = 14695981039346656037ull;

// Nonzero, 62 bits: 0 means "no hash" in the check's vector.
uint64_t StateHash(const std::vector<StateBuffer>& buffers) {
  uint64_t hash = kFnvBasis;
  for (const StateBuffer& b : buffers) {
    hash = Fnv1a(hash, static_cast<const std::byte*>(b.data), b.bytes);
  }
  hash &= kHashMask;
  return hash == 0 ? 1 : hash;
}

uint64_t BytesHash(const std::vector<std::byte>& bytes) {
  const uint64_t hash = Fnv1a(kFnvBasis, bytes.data(), bytes.size()) & kHashMask;
  return hash == 0 ? 1 : hash;
}

// One rank's line of step 1.
struct StateLine {
  bool has_state = false;
  uint64_t count = 0;
  uint64_t total_bytes = 0;
  uint64_t layout = 0;
  uint64_t hash = 0;
  uint64_t staged_hash = 0;
  uint64_t staged_bytes = 0;

  std::string Encode() const {
    return absl::StrCat(has_state ? 1 : 0, " ", count, " ", total_bytes, " ", layout, " ", hash,
                        " ", staged_hash, " ", staged_bytes);
  }
  bool SameLayout(const StateLine& o) const {
    return count == o.count && total_bytes == o.total_bytes && layout == o.layout;
  }
};

absl::StatusOr<StateLine> DecodeLine(int rank, const std::string& text) {
  // Bounded: seven numbers of at most 20 digits.
  const std::vector<std::string> fields = absl::StrSplit(text, ' ');
  StateLine line;
  uint64_t has = 0;
  uint64_t* targets[] = {&has,       &line.count,       &line.total_bytes, &line.layout,
                         &line.hash, &line.staged_hash, &line.staged_bytes};
  bool ok = text.size() <= 200 && fields.size() == 7;
  for (size_t i = 0; ok && i < 7; ++i) ok = absl::SimpleAtoi(fields[i], targets[i]);
  if (!ok || has > 1 || line.staged_bytes > line.total_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, "'s state line \"", text.substr(0, 80), "\" is malformed"));
  }
  line.has_state = has == 1;
  return line;
}

std::string Ranks(const std::vector<int>& ranks) {
  return absl::StrCat("[", absl::StrJoin(ranks, ", "), "]");
}

}  // namespace

bool Communicator::has_state() const { return impl_->has_state.load(); }

absl::StatusOr<StateSyncReport> Communicator::SyncState(const std::vector<StateBuffer>& buffers,
                                                        absl::Time deadline,
                                                        const StateSyncOptions& options) {
  if (!impl_->elastic) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", rank_, ": SyncState needs an elastic communicator"));
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes > kMaxChunkBytes) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank_, ": SyncState chunk_bytes ",
                                                   options.chunk_bytes, " is outside 1..",
                                                   kMaxChunkBytes));
  }
  StateLine mine;
  mine.count = buffers.size();
  mine.layout = kFnvBasis;
  for (const StateBuffer& b : buffers) {
    if (b.data == nullptr && b.bytes > 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rank ", rank_, ": SyncState buffer '", b.name, "' has no data"));
    }
    mine.total_bytes += b.bytes;
    const uint64_t size = b.bytes;
    mine.layout = Fnv1a(mine.layout, reinterpret_cast<const std::byte*>(&size), sizeof(size));
  }

  StateSyncReport report;
  bool refused = false;
  std::string what;
  {
    absl::MutexLock collective_lock(&impl_->collective_mu);
    Impl& impl = *impl_;
    what = absl::StrCat("rank ", rank_, " state sync");
    {
      absl::MutexLock lock(&impl.state_mu);
      if (!impl.broken.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": the communicator failed earlier: ", impl.broken.ToString()));
      }
    }
    if (impl.quorum_epoch == 0 || impl.quorum_epoch != impl.mesh_epoch) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": call Quorum first (SyncState runs within the quorum's epoch)"));
    }
    const int64_t epoch = impl.mesh_epoch;
    const uint64_t round = ++impl.state_syncs;
    absl::StrAppend(&what, " #", round, " (epoch ", epoch, ")");
    const auto named = [&](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
    };
    mine.has_state = impl.has_state.load();
    mine.hash = mine.has_state ? StateHash(buffers) : 0;
    mine.staged_hash = impl.staged_hash;
    mine.staged_bytes = impl.staged.size() == mine.total_bytes ? impl.staged_bytes : 0;

    // 1. Who holds what.
    const std::string prefix = absl::StrCat("crosslink/state/", epoch, "/", round, "/");
    if (absl::Status s = client_->KvSet(absl::StrCat(prefix, rank_), mine.Encode(), deadline);
        !s.ok()) {
      return named(s);
    }
    if (absl::Status s = client_->Barrier("crosslink/state", deadline, epoch); !s.ok()) {
      return named(s);
    }
    std::vector<std::pair<int, StateLine>> lines;
    for (int r : impl.live) {
      absl::StatusOr<std::string> text = client_->KvGet(absl::StrCat(prefix, r), deadline);
      if (!text.ok()) return named(text.status());
      ASSIGN_OR_RETURN(StateLine line, DecodeLine(r, *text));
      lines.emplace_back(r, line);
    }
    const auto holder =
        std::find_if(lines.begin(), lines.end(), [](const auto& l) { return l.second.has_state; });
    if (holder == lines.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": no live rank of ", Ranks(impl.live),
                       " holds training state (every rank that did has died)"));
    }
    const int source = holder->first;
    const StateLine& source_line = holder->second;
    report.source = source;
    report.state_hash = source_line.hash;
    std::vector<int> mismatched_holders, refused_ranks;
    for (const auto& [r, line] : lines) {
      if (line.SameLayout(source_line)) {
        if (!line.has_state) report.receivers.push_back(r);
      } else if (line.has_state) {
        mismatched_holders.push_back(r);
      } else {
        refused_ranks.push_back(r);
      }
    }
    if (!mismatched_holders.empty()) {
      // Every rank derives this from the same lines: the job's ranks disagree on the model.
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": ranks ", Ranks(mismatched_holders), " hold state of another layout than rank ",
          source, " (", source_line.count, " buffers, ", source_line.total_bytes, " bytes)"));
    }
    const auto line_of = [&](int r) -> const StateLine& {
      return std::find_if(lines.begin(), lines.end(), [r](const auto& l) { return l.first == r; })
          ->second;
    };
    refused = std::find(refused_ranks.begin(), refused_ranks.end(), rank_) != refused_ranks.end();

    // 2. The transfer, under one sequence number that every live rank takes.
    const uint64_t sequence = impl.collective.sequence++;
    const auto failed = [&](const absl::Status& s, int peer) {
      absl::Status status(
          s.code(), absl::StrCat(what, ": transfer ", rank_ == source ? "to" : "from", " rank ",
                                 peer, ": ", s.message()));
      if (AwaitDeathReport(impl, *client_, epoch, deadline)) {
        return absl::AbortedError(absl::StrCat(status.message(), " (the membership moved)"));
      }
      absl::MutexLock lock(&impl.state_mu);
      impl.broken = status;
      return status;
    };
    const auto resume_at = [&](int r) -> size_t {
      const StateLine& line = line_of(r);
      return line.staged_hash == source_line.hash ? line.staged_bytes : 0;
    };
    if (rank_ == source && !report.receivers.empty()) {
      std::vector<std::byte> packed;
      packed.reserve(mine.total_bytes);
      for (const StateBuffer& b : buffers) {
        const auto* p = static_cast<const std::byte*>(b.data);
        packed.insert(packed.end(), p, p + b.bytes);
      }
      std::vector<std::pair<int, std::shared_ptr<collectives::Handle>>> sends;
      for (int r : report.receivers) {
        collectives::Connection* connection = impl.collective.connections[r];
        if (connection == nullptr) return failed(absl::UnavailableError("no connection"), r);
        uint32_t chunk = 0;
        for (size_t offset = resume_at(r); offset < packed.size();
             offset += options.chunk_bytes, ++chunk) {
          collectives::FrameHeader header;
          header.job_id = impl.collective.job_id;
          header.sequence = sequence;
          header.chunk = chunk;
          header.tag = kStateTag;
          const size_t n = std::min(options.chunk_bytes, packed.size() - offset);
          sends.emplace_back(
              r, connection->Send(header, absl::MakeConstSpan(packed).subspan(offset, n)));
        }
      }
      int64_t sent = 0;
      for (auto& [r, handle] : sends) {
        absl::Status s = handle->Wait(deadline);
        if (s.ok() && options.progress) {
          sent += static_cast<int64_t>(options.chunk_bytes);
          options.progress(sent);
        }
        if (!s.ok()) {
          // The rest still borrow `packed`: close their connections before it goes away.
          for (int q : report.receivers) impl.collective.connections[q]->Close(s);
          for (auto& [q, h] : sends) h->Wait(absl::InfinitePast()).IgnoreError();
          return failed(s, r);
        }
      }
    } else if (std::find(report.receivers.begin(), report.receivers.end(), rank_) !=
               report.receivers.end()) {
      const size_t start = resume_at(rank_);
      if (start == 0 || impl.staged.size() != mine.total_bytes) {
        impl.staged.assign(mine.total_bytes, std::byte{0});
      }
      impl.staged_hash = source_line.hash;
      impl.staged_bytes = start;
      report.resumed_from = static_cast<int64_t>(start);
      collectives::Connection* connection = impl.collective.connections[source];
      if (connection == nullptr) return failed(absl::UnavailableError("no connection"), source);
      std::vector<std::pair<size_t, std::shared_ptr<collectives::RecvHandle>>> recvs;
      for (size_t offset = start; offset < impl.staged.size(); offset += options.chunk_bytes) {
        const size_t n = std::min(options.chunk_bytes, impl.staged.size() - offset);
        recvs.emplace_back(n, connection->Recv(absl::MakeSpan(impl.staged).subspan(offset, n)));
      }
      for (auto& [n, handle] : recvs) {
        absl::Status s = handle->Wait(deadline);
        if (s.ok() && (handle->header().sequence != sequence || handle->header().length != n)) {
          s = absl::DataLossError(absl::StrCat("a frame of collective ", handle->header().sequence,
                                               " with ", handle->header().length,
                                               " bytes arrived where state chunk bytes ", n,
                                               " of sequence ", sequence, " belonged"));
          impl.staged_bytes = 0;
        }
        if (!s.ok()) {
          // Pending receives write into impl.staged: end them before anything else touches it.
          connection->Close(s);
          for (auto& [m, h] : recvs) h->Wait(absl::InfinitePast()).IgnoreError();
          return failed(s, source);
        }
        impl.staged_bytes += n;
        report.bytes_received += static_cast<int64_t>(n);
        if (options.progress) options.progress(report.bytes_received);
      }
      // 3. Only a complete copy of the source's very state replaces this rank's buffers.
      if (BytesHash(impl.staged) != source_line.hash) {
        impl.staged.clear();
        impl.staged_bytes = 0;
        return failed(absl::DataLossError(absl::StrCat(
                          "the received state's hash differs from rank ", source, "'s")),
                      source);
      }
      size_t offset = 0;
      for (const StateBuffer& b : buffers) {
        if (b.bytes > 0) std::memcpy(b.data, impl.staged.data() + offset, b.bytes);
        offset += b.bytes;
      }
      impl.staged.clear();
      impl.staged.shrink_to_fit();
      impl.staged_bytes = 0;
      impl.staged_hash = 0;
      impl.has_state.store(true);
      mine.hash = StateHash(buffers);
    }
    if (refused) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": this rank's state (", mine.count, " buffers, ", mine.total_bytes,
          " bytes) has another layout than rank ", source, "'s (", source_line.count, " buffers, ",
          source_line.total_bytes,
          " bytes): a different model or world? Its buffers are untouched; it must leave the job"));
    }
  }

  // 4. The check, a collective over the live ranks (a refused rank takes part with no hash).
  std::vector<int64_t> hashes(world_size_, 0);
  hashes[rank_] = refused ? 0 : static_cast<int64_t>(mine.hash);
  CollectiveOptions check;
  check.deadline = deadline;
  if (absl::Status s = Allreduce(hashes.data(), hashes.size(), collectives::DataType::kInt64,
                                 collectives::ReduceOp::kSum, check);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(what, ": checking the state hashes: ", s.message()));
  }
  std::vector<int> differ;
  for (int r = 0; r < world_size_; ++r) {
    if (hashes[r] != 0 && static_cast<uint64_t>(hashes[r]) != report.state_hash)
      differ.push_back(r);
  }
  if (!differ.empty()) {
    return absl::DataLossError(absl::StrCat(what, ": ranks ", Ranks(differ),
                                            " hold a state whose hash differs from rank ",
                                            report.source, "'s after the sync"));
  }
  return report;
}

}  // namespace crosslink::runtime
