#include "crosslink/collectives/emulation/link_emulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/transport/crc32c.h"

namespace crosslink::collectives {

LinkEmulator::LinkEmulator(std::unique_ptr<Connection> inner,
                           std::shared_ptr<const LinkTimeline> timeline,
                           std::shared_ptr<const ScenarioClock> clock, LinkEmulatorOptions options)
    : inner_(std::move(inner)),
      timeline_(std::move(timeline)),
      clock_(std::move(clock)),
      options_(options),
      describe_(absl::StrCat(inner_->Describe(), " over emulated link ", timeline_->Describe())),
      send_what_(std::make_shared<const std::string>(absl::StrCat("send on ", describe_))) {
  if (options_.piece_bytes == 0) options_.piece_bytes = 256 * 1024;
  if (options_.corruption_mtbf_s > 0) {
    bit_errors_.emplace(options_.corruption_seed, timeline_->Describe(), options_.corruption_mtbf_s,
                        clock_->OrbitNow());
  }
  pump_ = std::thread([this] { PumpLoop(); });
}

LinkEmulator::~LinkEmulator() {
  Close(absl::UnavailableError(absl::StrCat(describe_, ": connection destroyed")));
  pump_.join();
}

LinkEmulator::Delivery LinkEmulator::Schedule(const FrameHeader& header,
                                              absl::Span<const std::byte> payload,
                                              std::shared_ptr<Completion> completion) {
  Delivery d{absl::InfiniteFuture(), header,       payload,     std::move(completion),
             absl::OkStatus(),       std::nullopt, std::nullopt};
  absl::Time t = std::max(clock_->WallNow(), busy_until_);
  size_t remaining = payload.size();
  double orbit_s = clock_->OrbitAt(t);
  double latency_s = 0;
  for (;;) {
    if (t == absl::InfiniteFuture()) break;  // held by an outage that never ends
    const LinkWindow w = timeline_->At(orbit_s);
    // Guard against a window that ends where it starts: step past its end.
    const double until_s = w.until_s > orbit_s
                               ? w.until_s
                               : std::nextafter(orbit_s, std::numeric_limits<double>::infinity());
    if (!w.up) {
      if (w.until_s != last_outage_until_s_) {
        ++counters_.outages_met;
        last_outage_until_s_ = w.until_s;
      }
      if (options_.mode == OutageMode::kCut) {
        d.due = t;
        d.cut = absl::UnavailableError(absl::StrFormat(
            "%s: link %s is down (%s) at orbit t=%.3f s with %d of %d bytes unsent (outage "
            "mode cut)",
            describe_, timeline_->Describe(), w.state, orbit_s, remaining, payload.size()));
        cut_scheduled_ = true;
        busy_until_ = t;
        last_due_ = std::max(last_due_, d.due);
        return d;
      }
      const absl::Time resume = clock_->WallAt(until_s);
      counters_.bytes_held += static_cast<int64_t>(remaining);
      counters_.time_held += resume - t;
      t = resume;
      orbit_s = until_s;
      continue;
    }
    latency_s = w.latency_s;
    if (remaining == 0) break;
    size_t piece = std::min(remaining, options_.piece_bytes);
    if (w.rate_bps > 0) {
      const double window_left_s = absl::ToDoubleSeconds(clock_->WallAt(until_s) - t);
      const double fit = std::floor(window_left_s * w.rate_bps / 8.0);
      if (fit < static_cast<double>(piece)) piece = fit > 0 ? static_cast<size_t>(fit) : 0;
      if (piece == 0) {  // the window closes before another byte fits: go to its end
        t = clock_->WallAt(until_s);
        orbit_s = until_s;
        continue;
      }
      t += absl::Seconds(static_cast<double>(piece) * 8.0 / w.rate_bps);
    } else {
      piece = remaining;  // an ideal link serialises instantly
    }
    remaining -= piece;
    orbit_s = clock_->OrbitAt(t);
    if (remaining == 0) break;
  }
  busy_until_ = t;
  if (t != absl::InfiniteFuture()) {
    // Latency where the last byte left; never overtake the message before.
    d.due = std::max(t + absl::Seconds(latency_s), last_due_);
  }
  last_due_ = d.due;
  return d;
}

std::shared_ptr<Handle> LinkEmulator::Send(const FrameHeader& header,
                                           absl::Span<const std::byte> payload) {
  return Enqueue(header, payload, std::nullopt);
}

std::shared_ptr<Handle> LinkEmulator::SendWithCrc(const FrameHeader& header,
                                                  absl::Span<const std::byte> payload,
                                                  uint32_t payload_crc32c) {
  return Enqueue(header, payload, payload_crc32c);
}

std::shared_ptr<Handle> LinkEmulator::Enqueue(const FrameHeader& header,
                                              absl::Span<const std::byte> payload,
                                              std::optional<uint32_t> crc) {
  auto completion = std::make_shared<Completion>(send_what_);
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) {
    completion->Complete(status_);
    return completion;
  }
  if (cut_scheduled_) {
    // The link is cut before this message could leave: it sits behind the cut, which fails the
    // connection and with it everything queued.
    queue_.push_back(
        Delivery{last_due_, header, payload, completion, absl::OkStatus(), crc, std::nullopt});
    return completion;
  }
  queue_.push_back(Schedule(header, payload, completion));
  Delivery& d = queue_.back();
  d.crc = crc;
  ByteFlip flip;
  // Decided where the message's last byte leaves (busy_until_), as the schedule is.
  if (d.cut.ok() && bit_errors_.has_value() && busy_until_ != absl::InfiniteFuture() &&
      bit_errors_->Corrupts(clock_->OrbitAt(busy_until_), payload.size(), &flip)) {
    d.flip = flip;
    ++counters_.corruptions;
  }
  return completion;
}

void LinkEmulator::PumpLoop() {
  for (;;) {
    Delivery d;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (!status_.ok()) return;  // Fail() completed the queue
        if (queue_.empty()) {
          auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return !queue_.empty() || !status_.ok();
          };
          mu_.Await(absl::Condition(&ready));
          continue;
        }
        const absl::Time due = queue_.front().due;
        const absl::Time now = absl::Now();
        if (now >= due) break;
        if (due - now <= options_.spin_window) {
          // A timed wait wakes late by up to a few hundred microseconds; for the last stretch
          // spin instead (not sched_yield, which on a busy machine gives away a whole slice),
          // so a 5 ms link measures 5 ms, not 5.3.
          mu_.Unlock();
          while (absl::Now() < due) {
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
          }
          mu_.Lock();
          continue;
        }
        auto failed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !status_.ok(); };
        mu_.AwaitWithDeadline(absl::Condition(&failed), due - options_.spin_window);
      }
      d = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!d.cut.ok()) {
      d.completion->Complete(d.cut);
      Fail(d.cut);
      return;
    }
    absl::Status s = Deliver(d);
    d.completion->Complete(s);
    if (!s.ok()) {
      Fail(s);
      return;
    }
  }
}

absl::Status LinkEmulator::Deliver(const Delivery& d) {
  std::shared_ptr<Handle> handle;
  std::vector<std::byte> corrupted;  // lives until the wrapped send completed
  if (d.flip.has_value()) {
    // The CRC is the intact bytes' (as the sender's NIC would have framed them); the copy with
    // the flipped bit is what "arrives".
    const uint32_t crc = d.crc.has_value() ? *d.crc : Crc32c(d.payload);
    corrupted.assign(d.payload.begin(), d.payload.end());
    corrupted[d.flip->offset] ^= std::byte{d.flip->mask};
    handle = inner_->SendWithCrc(d.header, corrupted, crc);
  } else if (d.crc.has_value()) {
    handle = inner_->SendWithCrc(d.header, d.payload, *d.crc);
  } else {
    handle = inner_->Send(d.header, d.payload);
  }
  // The wrapped connection is FIFO anyway, so waiting here delays no later message beyond what
  // the wrapped transport would; the payload stays borrowed until this completes.
  return handle->Wait(absl::InfiniteFuture());
}

void LinkEmulator::Fail(absl::Status reason) {
  std::deque<Delivery> pending;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return;
    status_ = reason;
    pending.swap(queue_);
  }
  inner_->Close(reason);
  for (Delivery& d : pending) d.completion->Complete(reason);
}

void LinkEmulator::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError(absl::StrCat(describe_, ": closed"));
  Fail(std::move(reason));
}

std::shared_ptr<RecvHandle> LinkEmulator::Recv(absl::Span<std::byte> buffer) {
  return inner_->Recv(buffer);
}

std::shared_ptr<RecvHandle> LinkEmulator::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return inner_->RecvAllocated(std::move(out));
}

absl::Status LinkEmulator::status() const {
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return status_;
  }
  return inner_->status();
}

void LinkEmulator::CorruptNextReceiveForTesting() {
  collectives::CorruptNextReceiveForTesting(*inner_);
}

LinkEmulatorCounters LinkEmulator::counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

}  // namespace crosslink::collectives
