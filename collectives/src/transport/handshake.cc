#include "handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

namespace crosslink::collectives {
namespace handshake {
namespace {

// Bodies of each kind (prefix excluded).
constexpr size_t kHelloBody = 8 + 4 + 4 + kNonceBytes;
constexpr size_t kChallengeBody = kNonceBytes + kMacBytes;
constexpr size_t kProofBody = kMacBytes;
constexpr size_t kVerdictBody = 4;
static_assert(kPrefixBytes + kChallengeBody == kMaxMessageBytes);

// Domain separation: a MAC of one kind is never a MAC of another.
constexpr std::string_view kAcceptorLabel = "crosslink handshake v2 acceptor\n";
constexpr std::string_view kConnectorLabel = "crosslink handshake v2 connector\n";
constexpr std::string_view kSessionLabel = "crosslink handshake v2 session\n";
constexpr std::string_view kChannelLabel = "crosslink handshake v2 tls channel\n";

uint64_t Get(absl::Span<const std::byte> in, size_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(in[off + i]) << (8 * i);
  return v;
}

void Put(absl::Span<std::byte> out, size_t off, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out[off + i] = static_cast<std::byte>(v >> (8 * i));
}

template <size_t N>
std::array<uint8_t, N> GetBytes(absl::Span<const std::byte> in, size_t off) {
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), in.data() + off, N);
  return out;
}

template <size_t N>
void PutBytes(absl::Span<std::byte> out, size_t off, const std::array<uint8_t, N>& bytes) {
  std::memcpy(out.data() + off, bytes.data(), N);
}

std::array<uint8_t, 32> Hmac(absl::Span<const uint8_t> key, absl::Span<const uint8_t> data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  // HMAC-SHA256 cannot fail for valid arguments; out stays zero (verifying nothing) if it did.
  ::HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
         out.data(), &len);
  return out;
}

std::vector<uint8_t> TranscriptBytes(std::string_view label, const Transcript& t) {
  std::vector<uint8_t> bytes(label.begin(), label.end());
  auto put = [&](uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  put(t.job_tag, 8);
  put(t.connector_rank, 4);
  put(t.acceptor_rank, 4);
  bytes.insert(bytes.end(), t.connector_nonce.begin(), t.connector_nonce.end());
  bytes.insert(bytes.end(), t.acceptor_nonce.begin(), t.acceptor_nonce.end());
  return bytes;
}

absl::Span<const uint8_t> Bytes(std::string_view s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

size_t MessageBytes(Kind kind) {
  switch (kind) {
    case Kind::kHello:
      return kPrefixBytes + kHelloBody;
    case Kind::kChallenge:
      return kPrefixBytes + kChallengeBody;
    case Kind::kProof:
      return kPrefixBytes + kProofBody;
    case Kind::kVerdict:
      return kPrefixBytes + kVerdictBody;
  }
  return 0;
}

absl::StatusOr<Kind> DecodePrefix(absl::Span<const std::byte> bytes) {
  if (bytes.size() < kPrefixBytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "handshake: %d bytes, a message has at least %d", bytes.size(), kPrefixBytes));
  }
  if (Get(bytes, 0, 4) != kMagic) {
    return absl::InvalidArgumentError("handshake: not a Crosslink handshake (bad magic)");
  }
  if (const uint64_t version = Get(bytes, 4, 2); version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrFormat("handshake: version %d, this build speaks %d", version, kVersion));
  }
  const uint64_t kind = Get(bytes, 6, 2);
  if (kind < static_cast<uint64_t>(Kind::kHello) || kind > static_cast<uint64_t>(Kind::kVerdict)) {
    return absl::InvalidArgumentError(absl::StrFormat("handshake: unknown message kind %d", kind));
  }
  return static_cast<Kind>(kind);
}

absl::StatusOr<Message> DecodeMessage(absl::Span<const std::byte> bytes) {
  absl::StatusOr<Kind> kind = DecodePrefix(bytes);
  if (!kind.ok()) return kind.status();
  if (bytes.size() != MessageBytes(*kind)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("handshake: a message of kind %d has %d bytes, got %d",
                        static_cast<int>(*kind), MessageBytes(*kind), bytes.size()));
  }
  const absl::Span<const std::byte> body = bytes.subspan(kPrefixBytes);
  switch (*kind) {
    case Kind::kHello:
      return Message(Hello{Get(body, 0, 8), static_cast<uint32_t>(Get(body, 8, 4)),
                           static_cast<uint32_t>(Get(body, 12, 4)),
                           GetBytes<kNonceBytes>(body, 16)});
    case Kind::kChallenge:
      return Message(
          Challenge{GetBytes<kNonceBytes>(body, 0), GetBytes<kMacBytes>(body, kNonceBytes)});
    case Kind::kProof:
      return Message(Proof{GetBytes<kMacBytes>(body, 0)});
    case Kind::kVerdict: {
      const uint64_t code = Get(body, 0, 4);
      if (code > static_cast<uint64_t>(VerdictCode::kNeedsTls)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("handshake: unknown verdict code %d", code));
      }
      return Message(Verdict{static_cast<VerdictCode>(code)});
    }
  }
  return absl::InvalidArgumentError("handshake: unknown message kind");
}

size_t EncodeMessage(const Message& message, absl::Span<std::byte> out) {
  const Kind kind = static_cast<Kind>(message.index() + 1);
  Put(out, 0, kMagic, 4);
  Put(out, 4, kVersion, 2);
  Put(out, 6, static_cast<uint16_t>(kind), 2);
  absl::Span<std::byte> body = out.subspan(kPrefixBytes);
  if (const auto* hello = std::get_if<Hello>(&message)) {
    Put(body, 0, hello->job_tag, 8);
    Put(body, 8, hello->connector_rank, 4);
    Put(body, 12, hello->acceptor_rank, 4);
    PutBytes(body, 16, hello->connector_nonce);
  } else if (const auto* challenge = std::get_if<Challenge>(&message)) {
    PutBytes(body, 0, challenge->acceptor_nonce);
    PutBytes(body, kNonceBytes, challenge->acceptor_mac);
  } else if (const auto* proof = std::get_if<Proof>(&message)) {
    PutBytes(body, 0, proof->connector_mac);
  } else if (const auto* verdict = std::get_if<Verdict>(&message)) {
    Put(body, 0, static_cast<uint32_t>(verdict->code), 4);
  }
  return MessageBytes(kind);
}

Mac ComputeMac(const JobKey& key, Role role, const Transcript& transcript) {
  return Hmac(
      key, TranscriptBytes(role == Role::kAcceptor ? kAcceptorLabel : kConnectorLabel, transcript));
}

bool VerifyMac(const JobKey& key, Role role, const Transcript& transcript, const Mac& mac) {
  const Mac expected = ComputeMac(key, role, transcript);
  return ::CRYPTO_memcmp(expected.data(), mac.data(), kMacBytes) == 0;
}

SessionKey DeriveSessionKey(const JobKey& key, const Transcript& transcript) {
  return Hmac(key, TranscriptBytes(kSessionLabel, transcript));
}

Mac SessionMac(const SessionKey& session_key, absl::Span<const std::byte> data) {
  return Hmac(session_key,
              absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

bool SessionMacEqual(const Mac& a, const Mac& b) {
  return ::CRYPTO_memcmp(a.data(), b.data(), kMacBytes) == 0;
}

JobKey BindKeyToChannel(const JobKey& key, absl::Span<const uint8_t> binding) {
  std::vector<uint8_t> data(kChannelLabel.begin(), kChannelLabel.end());
  data.insert(data.end(), binding.begin(), binding.end());
  return Hmac(key, data);
}

absl::StatusOr<Nonce> RandomNonce() {
  Nonce nonce;
  if (::RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    return absl::InternalError("handshake: the system's random source failed (RAND_bytes)");
  }
  return nonce;
}

JobKey KeyFromJobIdOnly(uint64_t job_id) {
  std::array<uint8_t, 8> id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(job_id >> (8 * i));
  return Hmac(Bytes("crosslink key from the job id alone (tests only)"), id);
}

}  // namespace handshake

JobKey DeriveJobKey(std::string_view job_token) {
  return handshake::Hmac(handshake::Bytes(job_token),
                         handshake::Bytes("crosslink data-plane key v1"));
}

uint64_t DeriveJobTag(std::string_view job_token) {
  const std::array<uint8_t, 32> mac = handshake::Hmac(
      handshake::Bytes(job_token), handshake::Bytes("crosslink transport job id v1"));
  uint64_t tag = 0;
  for (size_t i = 0; i < 8; ++i) tag |= static_cast<uint64_t>(mac[i]) << (8 * i);
  return tag;
}

}  // namespace crosslink::collectives
