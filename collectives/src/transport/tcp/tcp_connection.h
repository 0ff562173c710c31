// Internal: one TCP connection with its sender and receiver threads (see tcp_transport.h). The
// Connection methods, the matching of frames to receives, the send queue and the sticky status
// live in FramedConnection (../framed_connection.h), shared with the shared-memory backend; this
// class moves the bytes. Thread-safe as FrameMatcher is.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_

#include <sys/uio.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../framed_connection.h"
#include "../handshake.h"
#include "tls_session.h"

namespace crosslink::collectives::tcp_internal {

class TcpConnection final : public transport_internal::FramedConnection {
 public:
  // Takes ownership of `fd`, a connected socket whose handshake is done. The connection's first
  // failure shuts the socket down so that both threads (blocked in sendmsg / recv) and the peer
  // notice. `session_key` is the one the handshake derived (handshake.h). With `tls` (the
  // session whose setup is complete on `fd`, which then stays non-blocking) frames travel as TLS
  // records; without it `fd` must be blocking.
  TcpConnection(int fd, int local_rank, int peer_rank, uint64_t job_id,
                const std::string& peer_address, size_t receive_piece_bytes,
                const handshake::SessionKey& session_key, std::unique_ptr<TlsSession> tls);
  ~TcpConnection() override;

  // The key only the two authenticated ends of this connection know: what is built on the
  // connection (the shared-memory upgrade) authenticates with it.
  const handshake::SessionKey& session_key() const { return session_key_; }

 private:
  void SenderLoop();
  void ReceiverLoop();
  // Reads header.length bytes into `out`, checksumming piece by piece; kDataLoss on a CRC
  // mismatch, kUnavailable when the stream breaks.
  absl::Status ReadPayload(const FrameHeader& header, std::byte* out, bool corrupt);
  // As ReadPayload for a piece receive: each receive_piece_bytes piece into the connection's
  // scratch, checksummed and handed to `sink` while in cache; the whole payload's CRC is checked
  // after the last piece (PieceSink says what that means for the sink).
  absl::Status ReadPayloadIntoSink(const FrameHeader& header, PieceSink* sink, bool corrupt);
  // Reads exactly n bytes (through TLS when on). 0 on success, -1 at the end of the stream,
  // otherwise an errno; *got counts the bytes that arrived.
  int ReadFull(std::byte* out, size_t n, size_t* got);
  // Sends every byte of `iov` (which it may modify); kUnavailable naming the reason.
  absl::Status SendAll(std::vector<iovec>& iov);
  // The text of ReadFull's error `err`.
  std::string ReadErrorText(int err) const;

  const int fd_;
  const int peer_rank_;
  const uint64_t job_id_;
  const size_t receive_piece_bytes_;
  const handshake::SessionKey session_key_;
  std::unique_ptr<TlsSession> tls_;  // null: plain TCP

  std::thread sender_;
  std::thread receiver_;
};

}  // namespace crosslink::collectives::tcp_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
