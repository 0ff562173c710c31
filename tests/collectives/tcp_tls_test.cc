// TLS on TCP data connections (TcpOptions::tls): an allreduce over TLS gives the reference's bits,
// the payload never crosses the wire in clear, and a peer outside the job's PKI (a certificate
// from another CA, or no TLS at all, either way round) is refused with a status that names the
// ranks, without a connection ever reaching Accept. Certificates are made at test time with the
// openssl command line (test_certificates.h).
#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "collective_test_util.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hostile_peer.h"
#include "test_certificates.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

using ::testing::HasSubstr;
using testing::In;
using testing::Pattern;
using testing::RecordingRelay;
using testing::TestCertificates;

constexpr uint64_t kJob = 0x5eed;

// Options for `leaf` (issued by `pki`) trusting the CA `trust`.
TcpOptions TlsOptions(const TestCertificates& pki, const std::string& leaf,
                      const TestCertificates& trust) {
  TcpOptions options;
  options.job_key = DeriveJobKey("tls-test-token");
  options.tls = TcpTlsOptions{trust.cert(), pki.cert_path(leaf), pki.key_path(leaf)};
  return options;
}
TcpOptions TlsOptions(const TestCertificates& pki, const std::string& leaf) {
  return TlsOptions(pki, leaf, pki);
}

class TcpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok() && pki_.Issue("rank0") && pki_.Issue("rank1") && pki_.Issue("rank2") &&
                pki_.Issue("rank3"))
        << "openssl could not make the test certificates";
    ASSERT_TRUE(other_.ok() && other_.Issue("stranger"));
  }

  TestCertificates pki_{"job-ca"};
  TestCertificates other_{"other-ca"};
};

TEST_F(TcpTlsTest, AllreduceOverTlsMatchesTheReferenceBitForBit) {
  constexpr int kRanks = 4;
  std::vector<std::unique_ptr<Context>> contexts;
  for (int r = 0; r < kRanks; ++r) {
    auto ctx = MakeTcpContext(r, kJob, TlsOptions(pki_, absl::StrFormat("rank%d", r)));
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    contexts.push_back(*std::move(ctx));
  }
  testing::Mesh mesh(kRanks, kJob);
  for (int r = 0; r < kRanks; ++r) {
    for (int p = r + 1; p < kRanks; ++p) {
      auto c = contexts[r]->Connect(p, contexts[p]->address(), In(absl::Seconds(30)));
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_THAT((*c)->Describe(), HasSubstr("tls"));
      mesh.Replace(r, p, *std::move(c));
      auto a = contexts[p]->Accept(In(absl::Seconds(30)));
      ASSERT_TRUE(a.ok()) << a.status();
      ASSERT_EQ(a->first, r);
      mesh.Replace(p, r, std::move(a->second));
    }
  }
  // Ring and tree, a buffer of several MiB (many TLS records per message) and an odd count.
  for (AllreduceAlgorithm algorithm : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    for (size_t count : {size_t{1'000'003}, size_t{17}}) {
      std::vector<testing::Bytes> inputs;
      for (int r = 0; r < kRanks; ++r) {
        inputs.push_back(testing::RandomBuffer(DataType::kFloat32, count, 100 + r + count));
      }
      std::vector<testing::Bytes> buffers = inputs;
      CollectiveOptions options;
      options.algorithm = algorithm;
      options.deadline = In(absl::Seconds(60));
      const std::vector<absl::Status> statuses = mesh.Run([&](int r) {
        return Allreduce(mesh.Context(r), buffers[r].data(), count, DataType::kFloat32,
                         ReduceOp::kSum, options);
      });
      const testing::Bytes expected =
          algorithm == AllreduceAlgorithm::kRing
              ? testing::RingReference(inputs, DataType::kFloat32, ReduceOp::kSum, count)
              : testing::TreeReference(inputs, DataType::kFloat32, ReduceOp::kSum, count);
      for (int r = 0; r < kRanks; ++r) {
        ASSERT_TRUE(statuses[r].ok()) << statuses[r];
        EXPECT_TRUE(buffers[r] == expected) << "rank " << r << " count " << count;
      }
    }
  }
}

TEST_F(TcpTlsTest, ThePayloadNeverCrossesTheWireInClear) {
  auto listener = MakeTcpContext(1, kJob, TlsOptions(pki_, "rank1"));
  auto dialler = MakeTcpContext(0, kJob, TlsOptions(pki_, "rank0"));
  ASSERT_TRUE(listener.ok() && dialler.ok());
  const std::vector<std::byte> secret = Pattern(256 * 1024, 77);
  std::vector<std::byte> received(secret.size());
  std::vector<std::byte> wire;
  {
    RecordingRelay relay((*listener)->address());
    auto c = (*dialler)->Connect(1, relay.address(), In(absl::Seconds(30)));
    ASSERT_TRUE(c.ok()) << c.status();
    auto a = (*listener)->Accept(In(absl::Seconds(30)));
    ASSERT_TRUE(a.ok()) << a.status();
    auto recv = a->second->Recv(absl::MakeSpan(received));
    ASSERT_TRUE((*c)->Send(FrameHeader{.sequence = 3}, secret)->Wait(In(absl::Seconds(30))).ok());
    ASSERT_TRUE(recv->Wait(In(absl::Seconds(30))).ok());
    EXPECT_TRUE(received == secret);
    wire = relay.client_bytes();
  }
  // Everything went through the relay (payload, frame header, TLS overhead) ...
  ASSERT_GT(wire.size(), secret.size());
  // ... yet no 32-byte run of the payload appears in it.
  for (size_t at = 0; at + 32 <= secret.size(); at += 4096) {
    const auto run = absl::MakeConstSpan(secret).subspan(at, 32);
    EXPECT_EQ(std::search(wire.begin(), wire.end(), run.begin(), run.end()), wire.end())
        << "payload bytes at offset " << at << " crossed the wire in clear";
  }
}

TEST_F(TcpTlsTest, ACertificateFromAnotherCaIsRefusedBothWays) {
  auto listener = MakeTcpContext(1, kJob, TlsOptions(pki_, "rank1"));
  ASSERT_TRUE(listener.ok()) << listener.status();
  // A stranger that trusts only its own CA does not accept the listener's certificate ...
  auto stranger = MakeTcpContext(0, kJob, TlsOptions(other_, "stranger"));
  ASSERT_TRUE(stranger.ok()) << stranger.status();
  const absl::Time start = absl::Now();
  auto c = (*stranger)->Connect(1, (*listener)->address(), In(absl::Seconds(30)));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("rank 0 -> rank 1")) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("certificate")) << c.status();
  // ... nor, trusting the job's CA, does the listener accept the stranger's certificate.
  auto impostor = MakeTcpContext(0, kJob, TlsOptions(other_, "stranger", pki_));
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  auto d = (*impostor)->Connect(1, (*listener)->address(), In(absl::Seconds(30)));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnauthenticated) << d.status();
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("rank 0 -> rank 1")) << d.status();
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("refused this rank's certificate"))
      << d.status();
  // Both are final: refused at once, not retried until the deadline.
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_EQ((*listener)->Accept(In(absl::Milliseconds(500))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // The listener still serves the job's own ranks.
  auto member = MakeTcpContext(0, kJob, TlsOptions(pki_, "rank0"));
  ASSERT_TRUE(member.ok());
  EXPECT_TRUE((*member)->Connect(1, (*listener)->address(), In(absl::Seconds(30))).ok());
  EXPECT_TRUE((*listener)->Accept(In(absl::Seconds(30))).ok());
}

TEST_F(TcpTlsTest, APeerWithoutTlsIsRefusedBothWays) {
  TcpOptions plain_options;
  plain_options.job_key = DeriveJobKey("tls-test-token");  // the right key, but no TLS
  auto listener = MakeTcpContext(1, kJob, TlsOptions(pki_, "rank1"));
  auto plain = MakeTcpContext(0, kJob, plain_options);
  ASSERT_TRUE(listener.ok() && plain.ok());
  auto c = (*plain)->Connect(1, (*listener)->address(), In(absl::Seconds(5)));
  // Told why, at once (not retried until the deadline).
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("rank 0 -> rank 1")) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("TLS")) << c.status();
  EXPECT_EQ((*listener)->Accept(In(absl::Milliseconds(500))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // A TLS rank dialling a listener without TLS gets nowhere either.
  auto plain_listener = MakeTcpContext(3, kJob, plain_options);
  auto tls_dialler = MakeTcpContext(2, kJob, TlsOptions(pki_, "rank2"));
  ASSERT_TRUE(plain_listener.ok() && tls_dialler.ok());
  auto d = (*tls_dialler)->Connect(3, (*plain_listener)->address(), In(absl::Seconds(3)));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable) << d.status();
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("rank 2 -> rank 3")) << d.status();
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("TLS")) << d.status();
  EXPECT_EQ((*plain_listener)->Accept(In(absl::Milliseconds(500))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(TcpTlsTest, AMuteTlsClientIsDroppedAtTheHandshakeDeadline) {
  TcpOptions options = TlsOptions(pki_, "rank1");
  options.handshake_timeout = absl::Milliseconds(500);
  auto listener = MakeTcpContext(1, kJob, options);
  ASSERT_TRUE(listener.ok());
  const int fd = testing::DialLoopback((*listener)->address());
  ASSERT_GE(fd, 0);
  // Half a TLS record header, then silence: the listener closes it at its deadline.
  const unsigned char partial[] = {0x16, 0x03};
  ASSERT_TRUE(testing::SendBytes(fd, partial, sizeof(partial)));
  const absl::Time start = absl::Now();
  EXPECT_TRUE(testing::ReadUntilClosed(fd, In(absl::Seconds(20))));
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  ::close(fd);
}

TEST_F(TcpTlsTest, SendingToAPeerThatClosedIsUnavailableNotSigpipe) {
  // libssl's own socket BIO would write with write(2) and the process would die of SIGPIPE
  // (found by the sanitizer runs); the connection's sends must fail with a status instead.
  auto listener = MakeTcpContext(1, kJob, TlsOptions(pki_, "rank1"));
  auto dialler = MakeTcpContext(0, kJob, TlsOptions(pki_, "rank0"));
  ASSERT_TRUE(listener.ok() && dialler.ok());
  auto c = (*dialler)->Connect(1, (*listener)->address(), In(absl::Seconds(30)));
  ASSERT_TRUE(c.ok()) << c.status();
  auto a = (*listener)->Accept(In(absl::Seconds(30)));
  ASSERT_TRUE(a.ok()) << a.status();
  // Messages in flight (the peer reads them into its queue of early messages) when the peer's
  // end is destroyed and its socket closes: the sender is writing when the connection dies.
  const std::vector<std::byte> payload = Pattern(8 << 20, 9);
  std::vector<std::shared_ptr<Handle>> sends;
  for (int i = 0; i < 16; ++i) {
    sends.push_back((*c)->Send(FrameHeader{.sequence = static_cast<uint64_t>(i)}, payload));
  }
  absl::SleepFor(absl::Milliseconds(20));
  a->second.reset();
  absl::Status status;
  for (auto& send : sends) {
    if (absl::Status s = send->Wait(In(absl::Seconds(60))); !s.ok()) status = s;
  }
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("rank 0 -> rank 1")) << status;
}

TEST_F(TcpTlsTest, SharedMemoryUpgradesOverTlsAndTheLinkStaysUsable) {
  // Ranks of one host still move their bytes through shared memory: the offer travels over the
  // TLS connection and the segment is tagged with that connection's session key.
  ShmOptions a_options, b_options;
  a_options.tcp = TlsOptions(pki_, "rank0");
  b_options.tcp = TlsOptions(pki_, "rank1");
  auto a = MakeShmContext(0, kJob, a_options);
  auto b = MakeShmContext(1, kJob, b_options);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " " << b.status();
  auto c = (*a)->Connect(1, (*b)->address(), In(absl::Seconds(30)));
  ASSERT_TRUE(c.ok()) << c.status();
  auto accepted = (*b)->Accept(In(absl::Seconds(30)));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE(IsSharedMemoryConnection(**c));
  EXPECT_TRUE(IsSharedMemoryConnection(*accepted->second));
  const std::vector<std::byte> sent = Pattern(1 << 20, 5);
  std::vector<std::byte> received(sent.size());
  auto recv = accepted->second->Recv(absl::MakeSpan(received));
  ASSERT_TRUE((*c)->Send(FrameHeader{.sequence = 1}, sent)->Wait(In(absl::Seconds(30))).ok());
  ASSERT_TRUE(recv->Wait(In(absl::Seconds(30))).ok());
  EXPECT_TRUE(received == sent);
}

TEST(TcpTlsFilesTest, BadFilesAreClearErrors) {
  TestCertificates pki("job-ca");
  ASSERT_TRUE(pki.ok() && pki.Issue("rank0") && pki.Issue("rank1"));
  TcpOptions options;
  options.tls = TcpTlsOptions{pki.cert(), pki.cert_path("rank0"), "/nonexistent/rank0.key"};
  absl::Status missing = MakeTcpContext(0, kJob, options).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nonexistent/rank0.key")) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("rank 0")) << missing;
  options.tls->key_file = pki.key_path("rank1");  // another certificate's key
  absl::Status mismatch = MakeTcpContext(0, kJob, options).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument) << mismatch;
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("mismatch")) << mismatch;
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("rank1.key")) << mismatch;
  options.tls->key_file = pki.key_path("rank0");
  options.tls->ca_file = "/etc/hostname";  // readable, but no certificate
  absl::Status not_pem = MakeTcpContext(0, kJob, options).status();
  EXPECT_EQ(not_pem.code(), absl::StatusCode::kInvalidArgument) << not_pem;
  EXPECT_THAT(std::string(not_pem.message()), HasSubstr("/etc/hostname")) << not_pem;
}

}  // namespace
}  // namespace crosslink::collectives
