#include "bench/lib/loopback_probe.h"

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::bench {
namespace {

using collectives::Connection;
using collectives::FrameHeader;

// Rank 0 streams then pings; rank 1 receives then pongs. Returns rank 0's measurements.
absl::Status RunSender(Connection& conn, const LoopbackProbeOptions& options,
                       LoopbackProbeResult& result) {
  std::vector<std::byte> message(static_cast<size_t>(options.message_bytes));
  std::vector<std::byte> ack(static_cast<size_t>(options.ping_bytes));
  const int64_t messages =
      (options.stream_bytes + options.message_bytes - 1) / options.message_bytes;
  FrameHeader header;
  // Keep two sends in flight, as a pipelined collective does, so the stream never idles.
  const absl::Time start = absl::Now();
  std::shared_ptr<collectives::Handle> previous;
  for (int64_t i = 0; i < messages; ++i) {
    header.chunk = static_cast<uint32_t>(i);
    auto handle = conn.Send(header, message);
    if (previous != nullptr) RETURN_IF_ERROR(previous->Wait(options.deadline));
    previous = std::move(handle);
  }
  if (previous != nullptr) RETURN_IF_ERROR(previous->Wait(options.deadline));
  // The stream ends when the receiver has it all: it answers once with a small message.
  RETURN_IF_ERROR(conn.Recv(absl::MakeSpan(ack))->Wait(options.deadline));
  const absl::Duration stream_time = absl::Now() - start;
  result.stream_rate_bytes_per_s =
      static_cast<double>(messages * options.message_bytes) / absl::ToDoubleSeconds(stream_time);

  std::vector<std::byte> ping(static_cast<size_t>(options.ping_bytes));
  const absl::Time ping_start = absl::Now();
  for (int i = 0; i < options.round_trips; ++i) {
    header.tag = 1;
    auto recv = conn.Recv(absl::MakeSpan(ping));
    RETURN_IF_ERROR(conn.Send(header, ping)->Wait(options.deadline));
    RETURN_IF_ERROR(recv->Wait(options.deadline));
  }
  result.latency_s = absl::ToDoubleSeconds(absl::Now() - ping_start) / options.round_trips / 2.0;
  return absl::OkStatus();
}

absl::Status RunReceiver(Connection& conn, const LoopbackProbeOptions& options) {
  const int64_t messages =
      (options.stream_bytes + options.message_bytes - 1) / options.message_bytes;
  // Two receive buffers in flight, as the sender keeps two sends in flight.
  std::vector<std::byte> buffers[2] = {std::vector<std::byte>(options.message_bytes),
                                       std::vector<std::byte>(options.message_bytes)};
  std::shared_ptr<collectives::RecvHandle> pending[2];
  for (int64_t i = 0; i < messages; ++i) {
    const int slot = static_cast<int>(i % 2);
    if (pending[slot] != nullptr) RETURN_IF_ERROR(pending[slot]->Wait(options.deadline));
    pending[slot] = conn.Recv(absl::MakeSpan(buffers[slot]));
  }
  for (auto& p : pending) {
    if (p != nullptr) RETURN_IF_ERROR(p->Wait(options.deadline));
  }
  FrameHeader header;
  std::vector<std::byte> ping(static_cast<size_t>(options.ping_bytes));
  RETURN_IF_ERROR(conn.Send(header, ping)->Wait(options.deadline));
  for (int i = 0; i < options.round_trips; ++i) {
    RETURN_IF_ERROR(conn.Recv(absl::MakeSpan(ping))->Wait(options.deadline));
    RETURN_IF_ERROR(conn.Send(header, ping)->Wait(options.deadline));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoopbackProbeResult> ProbeLoopback(const ContextFactory& make_context,
                                                  const LoopbackProbeOptions& options) {
  if (options.stream_bytes <= 0 || options.message_bytes <= 0 || options.round_trips <= 0 ||
      options.ping_bytes <= 0) {
    return absl::InvalidArgumentError("loopback probe: sizes and round trips must be positive");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<collectives::Context> ctx0, make_context(0));
  ASSIGN_OR_RETURN(std::unique_ptr<collectives::Context> ctx1, make_context(1));

  absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> accepted =
      absl::UnknownError("not run");
  std::thread acceptor([&] { accepted = ctx1->Accept(options.deadline); });
  absl::StatusOr<std::unique_ptr<Connection>> connected =
      ctx0->Connect(1, ctx1->address(), options.deadline);
  acceptor.join();
  if (!connected.ok()) return connected.status();
  if (!accepted.ok()) return accepted.status();
  Connection& sender = **connected;
  Connection& receiver = *accepted->second;

  LoopbackProbeResult result;
  absl::Status receiver_status;
  std::thread receiver_thread([&] {
    receiver_status = RunReceiver(receiver, options);
    // A failed receiver must not leave the sender waiting until its deadline.
    if (!receiver_status.ok()) receiver.Close(receiver_status);
  });
  absl::Status sender_status = RunSender(sender, options, result);
  if (!sender_status.ok()) sender.Close(sender_status);
  receiver_thread.join();
  RETURN_IF_ERROR(sender_status);
  RETURN_IF_ERROR(receiver_status);
  return result;
}

}  // namespace crosslink::bench
