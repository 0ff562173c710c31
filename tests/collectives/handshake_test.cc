#include "../../collectives/src/transport/handshake.h"

#include <array>
#include <vector>

#include "gtest/gtest.h"

namespace crosslink::collectives::handshake {
namespace {

Transcript SampleTranscript() {
  Transcript t;
  t.job_tag = 0x1122334455667788ull;
  t.connector_rank = 3;
  t.acceptor_rank = 7;
  for (size_t i = 0; i < kNonceBytes; ++i) {
    t.connector_nonce[i] = static_cast<uint8_t>(i);
    t.acceptor_nonce[i] = static_cast<uint8_t>(100 + i);
  }
  return t;
}

std::vector<std::byte> Encode(const Message& m) {
  std::array<std::byte, kMaxMessageBytes> buf;
  const size_t n = EncodeMessage(m, absl::MakeSpan(buf));
  return std::vector<std::byte>(buf.begin(), buf.begin() + n);
}

TEST(HandshakeTest, EveryMessageRoundTrips) {
  const Transcript t = SampleTranscript();
  Hello hello{t.job_tag, t.connector_rank, t.acceptor_rank, t.connector_nonce};
  auto decoded = DecodeMessage(Encode(hello));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const Hello& h = std::get<Hello>(*decoded);
  EXPECT_EQ(h.job_tag, hello.job_tag);
  EXPECT_EQ(h.connector_rank, 3u);
  EXPECT_EQ(h.acceptor_rank, 7u);
  EXPECT_EQ(h.connector_nonce, t.connector_nonce);

  const JobKey key = DeriveJobKey("token");
  Challenge challenge{t.acceptor_nonce, ComputeMac(key, Role::kAcceptor, t)};
  decoded = DecodeMessage(Encode(challenge));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<Challenge>(*decoded).acceptor_mac, challenge.acceptor_mac);
  EXPECT_EQ(std::get<Challenge>(*decoded).acceptor_nonce, t.acceptor_nonce);

  decoded = DecodeMessage(Encode(Proof{ComputeMac(key, Role::kConnector, t)}));
  ASSERT_TRUE(decoded.ok());
  for (VerdictCode code : {VerdictCode::kAccepted, VerdictCode::kRefused, VerdictCode::kBusy,
                           VerdictCode::kNotThisRank, VerdictCode::kNeedsTls}) {
    decoded = DecodeMessage(Encode(Verdict{code}));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<Verdict>(*decoded).code, code);
  }
}

TEST(HandshakeTest, MalformedMessagesAreRejectedNotTrusted) {
  std::vector<std::byte> hello = Encode(Hello{});
  // Every truncation and one extra byte.
  for (size_t n = 0; n < hello.size(); ++n) {
    EXPECT_EQ(DecodeMessage(absl::MakeConstSpan(hello).first(n)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << n;
  }
  std::vector<std::byte> longer = hello;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(DecodeMessage(longer).ok());
  std::vector<std::byte> bad = hello;
  bad[0] ^= std::byte{1};  // magic
  EXPECT_FALSE(DecodeMessage(bad).ok());
  bad = hello;
  bad[4] = std::byte{1};  // version 1 (the old unauthenticated hello)
  EXPECT_FALSE(DecodeMessage(bad).ok());
  bad = hello;
  bad[6] = std::byte{9};  // kind
  EXPECT_FALSE(DecodePrefix(bad).ok());
  std::vector<std::byte> verdict = Encode(Verdict{VerdictCode::kAccepted});
  verdict[8] = std::byte{77};  // unknown code
  EXPECT_FALSE(DecodeMessage(verdict).ok());
}

TEST(HandshakeTest, AKeyBoundToOneTlsSessionVerifiesNothingOnAnother) {
  const JobKey key = DeriveJobKey("the job token");
  const Transcript t = SampleTranscript();
  std::array<uint8_t, 32> session_a{}, session_b{};
  session_a[0] = 1;
  session_b[0] = 2;
  const JobKey bound_a = BindKeyToChannel(key, session_a);
  EXPECT_EQ(bound_a, BindKeyToChannel(key, session_a));  // both ends of one session agree
  EXPECT_NE(bound_a, key);
  EXPECT_NE(bound_a, BindKeyToChannel(key, session_b));
  EXPECT_NE(bound_a, BindKeyToChannel(DeriveJobKey("another token"), session_a));
  // A MAC relayed from one session (a man in the middle) fails on the other.
  EXPECT_FALSE(VerifyMac(BindKeyToChannel(key, session_b), Role::kConnector, t,
                         ComputeMac(bound_a, Role::kConnector, t)));
}

TEST(HandshakeTest, MacsBindKeyRolesRanksAndBothNonces) {
  const JobKey key = DeriveJobKey("the job token");
  const Transcript t = SampleTranscript();
  const Mac acceptor = ComputeMac(key, Role::kAcceptor, t);
  EXPECT_TRUE(VerifyMac(key, Role::kAcceptor, t, acceptor));
  // Not valid as the other direction's MAC (no reflection).
  EXPECT_FALSE(VerifyMac(key, Role::kConnector, t, acceptor));
  // Another job's key.
  EXPECT_FALSE(VerifyMac(DeriveJobKey("another token"), Role::kAcceptor, t, acceptor));
  // Any field of the transcript changed: another connection, another rank, a replay.
  auto changed = [&](auto mutate) {
    Transcript u = t;
    mutate(u);
    return !VerifyMac(key, Role::kAcceptor, u, acceptor);
  };
  EXPECT_TRUE(changed([](Transcript& u) { u.job_tag ^= 1; }));
  EXPECT_TRUE(changed([](Transcript& u) { u.connector_rank = 4; }));
  EXPECT_TRUE(changed([](Transcript& u) { u.acceptor_rank = 6; }));
  EXPECT_TRUE(changed([](Transcript& u) { u.connector_nonce[31] ^= 1; }));
  EXPECT_TRUE(changed([](Transcript& u) { u.acceptor_nonce[0] ^= 1; }));
  // The session key is the same for both ends and differs per connection.
  Transcript other = t;
  other.acceptor_nonce[5] ^= 0x80;
  EXPECT_EQ(DeriveSessionKey(key, t), DeriveSessionKey(key, t));
  EXPECT_NE(DeriveSessionKey(key, t), DeriveSessionKey(key, other));
}

TEST(HandshakeTest, KeyAndTagComeFromTheTokenAndDiffer) {
  EXPECT_EQ(DeriveJobKey("a"), DeriveJobKey("a"));
  EXPECT_NE(DeriveJobKey("a"), DeriveJobKey("b"));
  EXPECT_EQ(DeriveJobTag("a"), DeriveJobTag("a"));
  EXPECT_NE(DeriveJobTag("a"), DeriveJobTag("b"));
  // The tag (public) is not a piece of the key (secret).
  const JobKey key = DeriveJobKey("a");
  uint64_t key_prefix = 0;
  for (int i = 0; i < 8; ++i) key_prefix |= static_cast<uint64_t>(key[i]) << (8 * i);
  EXPECT_NE(key_prefix, DeriveJobTag("a"));
  auto n1 = RandomNonce();
  auto n2 = RandomNonce();
  ASSERT_TRUE(n1.ok() && n2.ok());
  EXPECT_NE(*n1, *n2);
}

}  // namespace
}  // namespace crosslink::collectives::handshake
