// runtime/src/data_transport.h: the data address a rank registers with the coordinator is one
// its peers can dial. A wildcard listen host (CROSSLINK_LISTEN_HOST=0.0.0.0) is replaced by this
// host's address toward the coordinator; other addresses pass unchanged.
#include "../../runtime/src/data_transport.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

TEST(RegisteredDataAddressTest, WildcardHostBecomesTheAddressTowardTheCoordinator) {
  absl::StatusOr<std::string> address = RegisteredDataAddress("0.0.0.0:4321", "127.0.0.1:29500");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, "127.0.0.1:4321");
}

TEST(RegisteredDataAddressTest, SpecificAddressesPassUnchanged) {
  EXPECT_EQ(*RegisteredDataAddress("127.0.0.1:4321", "10.0.0.1:29500"), "127.0.0.1:4321");
  EXPECT_EQ(*RegisteredDataAddress("[::1]:4321", "10.0.0.1:29500"), "[::1]:4321");
}

TEST(RegisteredDataAddressTest, WildcardWithoutARouteIsARefusalNamingBothAddresses) {
  absl::StatusOr<std::string> address = RegisteredDataAddress("0.0.0.0:4321", "no-colon");
  ASSERT_FALSE(address.ok());
  EXPECT_EQ(address.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(address.status().message()), ::testing::HasSubstr("0.0.0.0:4321"));
  EXPECT_THAT(std::string(address.status().message()), ::testing::HasSubstr("no-colon"));
  EXPECT_THAT(std::string(address.status().message()),
              ::testing::HasSubstr("CROSSLINK_LISTEN_HOST"));
}

}  // namespace
}  // namespace crosslink::runtime
