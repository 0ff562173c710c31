#include "crosslink/collectives/transport/frame.h"

#include <random>
#include <vector>

#include "crosslink/collectives/transport/crc32c.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

absl::Span<const std::byte> Bytes(const std::vector<uint8_t>& v) {
  return absl::MakeConstSpan(reinterpret_cast<const std::byte*>(v.data()), v.size());
}

TEST(Crc32cTest, MatchesRfc3720Vectors) {
  std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF), ascending(32);
  for (int i = 0; i < 32; ++i) ascending[i] = i;
  const std::string digits = "123456789";
  for (auto crc : {Crc32c, Crc32cPortable}) {
    EXPECT_EQ(crc(Bytes(zeros), 0), 0x8A9136AAu);
    EXPECT_EQ(crc(Bytes(ones), 0), 0x62A8AB43u);
    EXPECT_EQ(crc(Bytes(ascending), 0), 0x46DD794Eu);
    EXPECT_EQ(crc(absl::MakeConstSpan(reinterpret_cast<const std::byte*>(digits.data()), 9), 0),
              0xE3069283u);
  }
}

TEST(Crc32cTest, HardwareAndPortableAgreeAndPiecesChain) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(200'000);
  for (auto& b : data) b = rng();
  // Lengths around the 3 x 4 KiB interleaving boundary and odd tails.
  for (size_t n : {0ul, 1ul, 7ul, 8ul, 12287ul, 12288ul, 12289ul, 40000ul, 200'000ul}) {
    auto span = Bytes(data).first(n);
    const uint32_t whole = Crc32cPortable(span);
    EXPECT_EQ(Crc32c(span), whole) << n;
    for (size_t cut : {size_t{0}, n / 3, n}) {
      EXPECT_EQ(Crc32c(span.subspan(cut), Crc32c(span.first(cut))), whole) << n << " " << cut;
    }
  }
}

TEST(Crc32cTest, FoldingPathAgreesAtEveryLengthAlignmentAndStart) {
  // The carry-less-multiply path takes inputs of 256 bytes and more: cover its 256-byte main
  // loop, 64- and 16-byte tails, the byte tail, unaligned starts and a continued CRC.
  std::mt19937 rng(11);
  std::vector<uint8_t> data(70'000);
  for (auto& b : data) b = rng();
  for (size_t offset : {size_t{0}, size_t{1}, size_t{13}, size_t{64}}) {
    for (size_t n = 240; n < 1400; ++n) {
      auto span = Bytes(data).subspan(offset, n);
      ASSERT_EQ(Crc32c(span, 0x12345678), Crc32cPortable(span, 0x12345678)) << offset << " " << n;
    }
    for (size_t n : {size_t{4096}, size_t{16384}, size_t{65'537}}) {
      auto span = Bytes(data).subspan(offset, n);
      ASSERT_EQ(Crc32c(span), Crc32cPortable(span)) << offset << " " << n;
    }
  }
}

FrameHeader Sample() {
  return FrameHeader{.job_id = 0x1122334455667788,
                     .sequence = 99,
                     .chunk = 3,
                     .tag = 0xABCD,
                     .length = 4096,
                     .crc32c = 0xDEADBEEF};
}

TEST(FrameTest, RoundTripsEveryField) {
  const EncodedFrameHeader raw = EncodeFrameHeader(Sample());
  auto decoded = DecodeFrameHeader(raw, Sample().job_id, "test");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->job_id, Sample().job_id);
  EXPECT_EQ(decoded->sequence, 99u);
  EXPECT_EQ(decoded->chunk, 3u);
  EXPECT_EQ(decoded->tag, 0xABCDu);
  EXPECT_EQ(decoded->length, 4096u);
  EXPECT_EQ(decoded->crc32c, 0xDEADBEEFu);
}

TEST(FrameTest, LayoutIsLittleEndianAtDocumentedOffsets) {
  const EncodedFrameHeader raw = EncodeFrameHeader(Sample());
  EXPECT_EQ(raw[0], std::byte{'X'});
  EXPECT_EQ(raw[1], std::byte{'L'});
  EXPECT_EQ(raw[2], std::byte{'N'});
  EXPECT_EQ(raw[3], std::byte{'K'});
  EXPECT_EQ(raw[4], std::byte{1});      // version
  EXPECT_EQ(raw[8], std::byte{0x88});   // job_id low byte
  EXPECT_EQ(raw[16], std::byte{99});    // sequence
  EXPECT_EQ(raw[33], std::byte{0x10});  // length 4096 = 0x1000
  EXPECT_EQ(raw[40], std::byte{0xEF});  // crc32c low byte
}

TEST(FrameTest, RejectsBadMagicWrongJobAndCorruptHeader) {
  EncodedFrameHeader raw = EncodeFrameHeader(Sample());
  EXPECT_EQ(DecodeFrameHeader(raw, 1, "test").status().code(), absl::StatusCode::kInvalidArgument);

  EncodedFrameHeader bad_magic = raw;
  bad_magic[0] = std::byte{'Y'};
  EXPECT_EQ(DecodeFrameHeader(bad_magic, Sample().job_id, "test").status().code(),
            absl::StatusCode::kInvalidArgument);

  EncodedFrameHeader flipped = raw;
  flipped[33] ^= std::byte{0x40};  // a corrupted length must not be trusted
  EXPECT_EQ(DecodeFrameHeader(flipped, Sample().job_id, "test").status().code(),
            absl::StatusCode::kDataLoss);

  EXPECT_EQ(DecodeFrameHeader(absl::MakeConstSpan(raw).first(40), Sample().job_id, "test")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FrameTest, ErrorsNameWhere) {
  auto status = DecodeFrameHeader(EncodeFrameHeader(Sample()), 1, "rank 2 -> rank 3 (tcp x)");
  EXPECT_NE(status.status().message().find("rank 2 -> rank 3"), std::string::npos);
}

TEST(FrameTest, CheckPayloadDetectsCorruption) {
  std::vector<uint8_t> payload(1000, 5);
  FrameHeader h = Sample();
  h.length = payload.size();
  h.crc32c = Crc32c(Bytes(payload));
  EXPECT_TRUE(CheckPayload(h, Bytes(payload), "test").ok());
  payload[500] ^= 1;
  EXPECT_EQ(CheckPayload(h, Bytes(payload), "test").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(CheckPayload(h, Bytes(payload).first(999), "test").code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace crosslink::collectives
