// FrameMatcher (collectives/src/transport/frame_matcher.h), the message matching that the TCP and
// shared-memory connections share, driven directly as their sender and receiver threads drive
// it: sends are taken in order in batches within the given limits; messages that arrive before
// their receive is posted wait and are handed out oldest first; a RecvAllocated buffer is sized
// to the message; a message longer than the posted buffer fails the connection with
// kInvalidArgument naming the sizes; and the first failure is sticky, runs the backend's hook
// once, and completes everything queued or posted with that error.
#include "../../collectives/src/transport/frame_matcher.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives::transport_internal {
namespace {

using ::testing::HasSubstr;

absl::Time Soon() { return absl::Now() + absl::Seconds(5); }

std::unique_ptr<FrameMatcher> MakeMatcher(int* failures,
                                          FrameMatcher::Limits limits = FrameMatcher::Limits()) {
  return std::make_unique<FrameMatcher>(
      std::make_shared<const std::string>("test connection"), [failures] { ++*failures; }, limits);
}

FrameHeader Header(uint64_t length, uint32_t chunk) {
  FrameHeader header;
  header.sequence = 7;
  header.chunk = chunk;
  header.length = length;
  return header;
}

// What the receiver thread does with one arriving message: claim, copy in, deliver.
void Arrive(FrameMatcher& matcher, const std::string& text, uint32_t chunk) {
  std::optional<FrameMatcher::Arrival> arrival =
      matcher.Claim(Header(text.size(), chunk), absl::ZeroDuration());
  ASSERT_TRUE(arrival.has_value());
  std::memcpy(arrival->data(), text.data(), text.size());
  matcher.Deliver(std::move(*arrival));
}

std::string Text(absl::Span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(FrameMatcherTest, SendsAreTakenInOrderWithinTheBatchLimits) {
  int failures = 0;
  auto matcher = MakeMatcher(&failures);
  std::vector<std::byte> payload(100);
  std::vector<std::shared_ptr<Handle>> handles;
  for (uint32_t chunk = 0; chunk < 5; ++chunk) {
    handles.push_back(matcher->Send(Header(0, chunk), payload));
  }
  std::vector<FrameMatcher::SendOp> batch;
  // Past the first, at most 250 payload bytes in all: two sends of 100.
  ASSERT_TRUE(matcher->TakeSends(/*max_ops=*/3, /*max_payload_bytes=*/250, &batch));
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].header.chunk, 0u);
  EXPECT_EQ(batch[1].header.chunk, 1u);
  // At most max_ops.
  ASSERT_TRUE(matcher->TakeSends(/*max_ops=*/1, /*max_payload_bytes=*/1 << 20, &batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].header.chunk, 2u);
  // The first send is taken even when it alone exceeds the byte limit.
  ASSERT_TRUE(matcher->TakeSends(/*max_ops=*/8, /*max_payload_bytes=*/10, &batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].header.chunk, 3u);
  // The sender completes what it took; the matcher does not.
  EXPECT_FALSE(handles[0]->Done());
  batch[0].completion->Complete(absl::OkStatus());
  EXPECT_TRUE(handles[3]->Wait(Soon()).ok());
  EXPECT_EQ(failures, 0);
}

TEST(FrameMatcherTest, EarlyMessagesWaitAndGoOldestFirstToLaterReceives) {
  int failures = 0;
  auto matcher = MakeMatcher(&failures);
  Arrive(*matcher, "first", 1);
  Arrive(*matcher, "second message", 2);
  std::vector<std::byte> buffer(64);
  auto one = matcher->Recv(absl::MakeSpan(buffer));
  ASSERT_TRUE(one->Wait(Soon()).ok());
  EXPECT_EQ(one->header().chunk, 1u);
  EXPECT_EQ(Text(absl::MakeSpan(buffer).subspan(0, one->header().length)), "first");
  auto allocated = std::make_shared<std::vector<std::byte>>();
  auto two = matcher->RecvAllocated(allocated);
  ASSERT_TRUE(two->Wait(Soon()).ok());
  EXPECT_EQ(two->header().chunk, 2u);
  EXPECT_EQ(Text(*allocated), "second message");  // sized to the message

  // A receive posted first takes the next arrival in place.
  auto three = matcher->Recv(absl::MakeSpan(buffer));
  EXPECT_FALSE(three->Done());
  Arrive(*matcher, "third", 3);
  ASSERT_TRUE(three->Wait(Soon()).ok());
  EXPECT_EQ(Text(absl::MakeSpan(buffer).subspan(0, 5)), "third");
  EXPECT_EQ(failures, 0);
}

TEST(FrameMatcherTest, MessageLongerThanThePostedBufferFailsTheConnection) {
  int failures = 0;
  auto matcher = MakeMatcher(&failures);
  std::vector<std::byte> small(4);
  auto recv = matcher->Recv(absl::MakeSpan(small));
  EXPECT_FALSE(matcher->Claim(Header(8, 5), absl::ZeroDuration()).has_value());
  const absl::Status status = recv->Wait(Soon());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("test connection"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("longer than the posted buffer of 4"));
  EXPECT_EQ(matcher->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(matcher->failed());
  EXPECT_EQ(failures, 1);

  // The same check when the message was early and the short receive comes later.
  auto late = MakeMatcher(&failures);
  Arrive(*late, "eight by", 1);
  auto short_recv = late->Recv(absl::MakeSpan(small));
  EXPECT_EQ(short_recv->Wait(Soon()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(late->status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameMatcherTest, HeaderBeyondTheFrameLimitFailsTheConnectionWithoutAllocating) {
  // A forged header announcing 1 PiB: the connection fails with kInvalidArgument naming it; the
  // receiver thread gets nullopt (no allocation attempted, no exception).
  int failures = 0;
  auto early = MakeMatcher(&failures);
  EXPECT_FALSE(early->Claim(Header(uint64_t{1} << 50, 4), absl::ZeroDuration()).has_value());
  EXPECT_EQ(early->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(early->status().message()), HasSubstr("test connection"));
  EXPECT_THAT(std::string(early->status().message()), HasSubstr("more than the 1073741824 bytes"));
  EXPECT_EQ(failures, 1);

  // Also into a posted RecvAllocated, which would otherwise be resized to the announced length.
  auto posted = MakeMatcher(&failures);
  auto recv = posted->RecvAllocated(std::make_shared<std::vector<std::byte>>());
  EXPECT_FALSE(posted->Claim(Header(uint64_t{1} << 50, 4), absl::ZeroDuration()).has_value());
  EXPECT_EQ(recv->Wait(Soon()).code(), absl::StatusCode::kInvalidArgument);

  // The limit is per connection: one byte over a configured limit fails, the limit itself passes.
  auto limited = MakeMatcher(&failures, {.max_frame_bytes = 8});
  Arrive(*limited, "eight by", 1);
  EXPECT_TRUE(limited->status().ok());
  EXPECT_FALSE(limited->Claim(Header(9, 2), absl::ZeroDuration()).has_value());
  EXPECT_EQ(limited->status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameMatcherTest, UnexpectedBytesBeyondTheBoundFailTheConnection) {
  int failures = 0;
  auto matcher = MakeMatcher(&failures, {.max_unexpected_bytes = 16});
  Arrive(*matcher, "eight by", 1);
  Arrive(*matcher, "eight by", 2);  // 16 bytes held: exactly the bound
  // A posted receive takes one message and frees its bytes.
  std::vector<std::byte> buffer(8);
  ASSERT_TRUE(matcher->Recv(absl::MakeSpan(buffer))->Wait(Soon()).ok());
  Arrive(*matcher, "eight by", 3);
  EXPECT_TRUE(matcher->status().ok());
  // One more byte would hold 17.
  EXPECT_FALSE(matcher->Claim(Header(1, 4), absl::ZeroDuration()).has_value());
  const absl::Status status = matcher->status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(status.message()), HasSubstr("test connection"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("exceed the 16 bytes buffered"));
  EXPECT_EQ(failures, 1);
}

TEST(FrameMatcherTest, FirstFailureIsStickyAndCompletesEverythingQueuedOrPosted) {
  int failures = 0;
  auto matcher = MakeMatcher(&failures);
  std::vector<std::byte> payload(10), buffer(10);
  auto send = matcher->Send(Header(0, 1), payload);
  auto recv = matcher->Recv(absl::MakeSpan(buffer));
  matcher->Fail(absl::UnavailableError("peer went away"));
  matcher->Fail(absl::DataLossError("a later error"));
  EXPECT_EQ(failures, 1);  // the backend's hook runs once
  EXPECT_THAT(std::string(send->Wait(Soon()).message()), HasSubstr("peer went away"));
  EXPECT_EQ(recv->Wait(Soon()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(matcher->status().code(), absl::StatusCode::kUnavailable);
  // Later operations fail at once with the same status; the sender thread is told to stop.
  EXPECT_EQ(matcher->Send(Header(0, 2), payload)->Wait(Soon()).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(matcher->Recv(absl::MakeSpan(buffer))->Wait(Soon()).code(),
            absl::StatusCode::kUnavailable);
  std::vector<FrameMatcher::SendOp> batch;
  EXPECT_FALSE(matcher->TakeSends(8, 1 << 20, &batch));
  EXPECT_FALSE(matcher->Claim(Header(3, 3), absl::ZeroDuration()).has_value());
}

}  // namespace
}  // namespace crosslink::collectives::transport_internal
