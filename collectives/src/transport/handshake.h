// Internal: the data-plane handshake that proves both ends of a new connection hold the job key
// (a secret derived from the job token, tcp_transport.h) without sending it, binds both ranks to
// the connection, and derives a per-connection session key.
//
// Four fixed-size messages, each an 8-byte prefix (magic "XLH2" u32, version u16 = 2, kind u16)
// and a body; little-endian:
//
//   connector -> acceptor  Hello      job_tag u64, connector_rank u32, acceptor_rank u32 (the
//                                     rank it means to reach), connector_nonce[32]
//   acceptor -> connector  Challenge  acceptor_nonce[32], acceptor_mac[32]
//                          or Verdict (refused / busy / not this rank) instead
//   connector -> acceptor  Proof      connector_mac[32]
//   acceptor -> connector  Verdict    code u32 (accepted, refused, busy, not this rank)
//
// With TLS (TcpOptions::tls) the four messages travel inside the TLS session; a listener with
// TLS that receives a Hello in clear answers a Verdict "needs TLS" in clear, so that a rank
// configured without TLS learns why it is refused.
//
// Each MAC is HMAC-SHA256(job key, label || transcript), the transcript being the job tag, both
// ranks and both nonces, with a different label per direction (a MAC cannot be reflected back).
// Fresh 32-byte nonces from both ends make every transcript unique: a message recorded on one
// connection, or from another job, proves nothing on another. The job tag is a routing label,
// not a secret (frame headers carry it); only the key authenticates. A refusal says no more than
// its code: no job tag, no rank, nothing about the key.
//
// The decoders are pure functions of their bytes (fuzzed: tests/fuzz); they check sizes, magic,
// version and kind, and never read past the span.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_HANDSHAKE_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_HANDSHAKE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/tcp_transport.h"

namespace crosslink::collectives::handshake {

inline constexpr uint32_t kMagic = 0x32484C58;  // "XLH2" in little-endian byte order
inline constexpr uint16_t kVersion = 2;
inline constexpr size_t kPrefixBytes = 8;
inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;

using Nonce = std::array<uint8_t, kNonceBytes>;
using Mac = std::array<uint8_t, kMacBytes>;
using SessionKey = std::array<uint8_t, kMacBytes>;

enum class Kind : uint16_t { kHello = 1, kChallenge = 2, kProof = 3, kVerdict = 4 };

enum class VerdictCode : uint32_t {
  kAccepted = 0,
  kRefused = 1,      // wrong job tag or a proof that does not verify: nothing more is said
  kBusy = 2,         // the listener holds too many unclaimed connections; retry later
  kNotThisRank = 3,  // an authenticated peer dialled the wrong rank's address
  kNeedsTls = 4,     // sent in clear by a listener with TLS to a connector without it
};

struct Hello {
  uint64_t job_tag = 0;
  uint32_t connector_rank = 0;
  uint32_t acceptor_rank = 0;
  Nonce connector_nonce{};
};
struct Challenge {
  Nonce acceptor_nonce{};
  Mac acceptor_mac{};
};
struct Proof {
  Mac connector_mac{};
};
struct Verdict {
  VerdictCode code = VerdictCode::kRefused;
};
using Message = std::variant<Hello, Challenge, Proof, Verdict>;

// Bytes of a whole message (prefix and body) of `kind`.
size_t MessageBytes(Kind kind);
// The largest message (the size of a buffer any message fits in).
inline constexpr size_t kMaxMessageBytes = kPrefixBytes + 2 * kNonceBytes;

// Reads the prefix (the first kPrefixBytes of `bytes`; more are ignored): the kind of the
// message that follows. kInvalidArgument for a short span, wrong magic, version or kind.
absl::StatusOr<Kind> DecodePrefix(absl::Span<const std::byte> bytes);
// Decodes one whole message; `bytes` must be exactly MessageBytes(kind) long. kInvalidArgument
// for anything else (a short or long span, wrong magic, version, kind, an unknown verdict code).
absl::StatusOr<Message> DecodeMessage(absl::Span<const std::byte> bytes);

// Encodes `message` (prefix included) into `out`, which must hold kMaxMessageBytes; returns the
// bytes written.
size_t EncodeMessage(const Message& message, absl::Span<std::byte> out);

// Who computes a MAC: each direction has its own label, so one side's MAC is never valid as the
// other's.
enum class Role { kAcceptor, kConnector };

struct Transcript {
  uint64_t job_tag = 0;
  uint32_t connector_rank = 0;
  uint32_t acceptor_rank = 0;
  Nonce connector_nonce{};
  Nonce acceptor_nonce{};
};

// HMAC-SHA256(key, label(role) || transcript).
Mac ComputeMac(const JobKey& key, Role role, const Transcript& transcript);
// Constant-time comparison of `mac` with the MAC `role` must have sent for `transcript`.
bool VerifyMac(const JobKey& key, Role role, const Transcript& transcript, const Mac& mac);
// The connection's session key: HMAC-SHA256(key, "session" label || transcript). Both ends
// derive the same one; it keys what the connection authenticates later (the shared-memory
// segment), so that proof cannot be moved to another connection.
SessionKey DeriveSessionKey(const JobKey& key, const Transcript& transcript);
// HMAC-SHA256(session_key, data): e.g. the tag of a shared-memory segment.
Mac SessionMac(const SessionKey& session_key, absl::Span<const std::byte> data);
bool SessionMacEqual(const Mac& a, const Mac& b);

// The key a handshake inside a TLS session uses (TcpOptions::tls): HMAC-SHA256(key, label ||
// binding), `binding` being the session's exported keying material (RFC 8446 section 7.5),
// which both ends of one TLS session share and no other session has. A man in the middle who
// holds a certificate of the job's CA but relays between two TLS sessions sees two different
// bindings, so the MACs it relays verify on neither.
JobKey BindKeyToChannel(const JobKey& key, absl::Span<const uint8_t> binding);

// 32 bytes from the operating system's CSPRNG (OpenSSL RAND_bytes, seeded by getrandom).
// kInternal when it fails (no entropy source).
absl::StatusOr<Nonce> RandomNonce();

// The key for a context made without TcpOptions::job_key: derived from the job id alone, which
// every frame header carries in clear. It authenticates nothing beyond the job id: for tests and
// single-user tools; a job with a token passes DeriveJobKey(token).
JobKey KeyFromJobIdOnly(uint64_t job_id);

}  // namespace crosslink::collectives::handshake

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_HANDSHAKE_H_
