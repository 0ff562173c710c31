// crosslink::base::FlagSet (base/flags.h), the parser behind every program's command line. The
// properties the programs' users rely on: both spellings of a value, the bounds and byte sizes
// they are told, '--' and a launcher's program left untouched, --help before anything is checked,
// and an error that names the flag.
#include "crosslink/base/flags.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::base {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseByteSizeTest, SuffixesArePowersOf1024) {
  EXPECT_EQ(ParseByteSize("--bytes", "4096").value(), 4096);
  EXPECT_EQ(ParseByteSize("--bytes", "64K").value(), 64 << 10);
  EXPECT_EQ(ParseByteSize("--bytes", "64KiB").value(), 64 << 10);
  EXPECT_EQ(ParseByteSize("--bytes", "16M").value(), 16 << 20);
  EXPECT_EQ(ParseByteSize("--bytes", "1g").value(), int64_t{1} << 30);
  for (const char* bad : {"0", "-4", "1Q", "", "M"}) {
    absl::StatusOr<int64_t> size = ParseByteSize("--bytes", bad);
    ASSERT_FALSE(size.ok()) << bad;
    EXPECT_THAT(size.status().message(), HasSubstr("--bytes")) << bad;
  }
}

struct Values {
  int ranks = 4;
  int64_t bytes = 0;
  double factor = 2;
  std::string algo = "auto";
  bool verbose = false;
  std::vector<int> sats;
};

// A FlagSet over `v` with one flag of each kind.
void Declare(FlagSet& flags, Values* v) {
  flags.Int("ranks", &v->ranks, "ranks").Min(1).Alias("-n");
  flags.ByteSize("bytes", &v->bytes, "size").Required();
  flags.Double("factor", &v->factor, "factor").Above(1);
  flags.Choice("algo", &v->algo, {"ring", "tree", "auto"}, "algorithm");
  flags.Switch("verbose", &v->verbose, "talk");
  flags.Custom(
      "sat", "ID",
      [v](absl::string_view value) {
        v->sats.push_back(static_cast<int>(value.size()));
        return absl::OkStatus();
      },
      "repeats");
}

TEST(FlagSetTest, BothSpellingsAliasesAndRepeats) {
  Values v;
  FlagSet flags("prog", "usage: prog\n");
  Declare(flags, &v);
  absl::StatusOr<FlagSet::Parsed> parsed =
      flags.Parse({"--ranks=8", "--bytes", "1M", "--factor=4", "--algo", "ring", "--verbose",
                   "--sat", "ab", "--sat=abc"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(v.ranks, 8);
  EXPECT_EQ(v.bytes, 1 << 20);
  EXPECT_EQ(v.factor, 4);
  EXPECT_EQ(v.algo, "ring");
  EXPECT_TRUE(v.verbose);
  EXPECT_THAT(v.sats, ElementsAre(2, 3));
  EXPECT_TRUE(flags.Given("factor"));
  ASSERT_TRUE(flags.Parse({"-n", "2", "--bytes=4K"}).ok());
  EXPECT_EQ(v.ranks, 2);
  EXPECT_FALSE(flags.Given("factor"));
}

TEST(FlagSetTest, MistakesNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bytes", "1M", "--bogus", "1"}, "unknown flag '--bogus'"},
      {{"--bytes"}, "--bytes needs a value"},
      {{"--ranks", "1"}, "--bytes is required"},
      {{"--bytes", "1M", "--ranks", "0"}, "--ranks expects an integer >= 1"},
      {{"--bytes", "1M", "--ranks", "two"}, "--ranks"},
      {{"--bytes", "1M", "--factor", "1"}, "--factor expects a number > 1"},
      {{"--bytes", "1M", "--algo", "star"}, "--algo expects one of ring, tree, auto"},
      {{"--bytes", "1M", "--verbose=1"}, "--verbose takes no value"},
      {{"--bytes", "1M", "stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& [args, message] : cases) {
    Values v;
    FlagSet flags("prog", "usage: prog\n");
    Declare(flags, &v);
    absl::StatusOr<FlagSet::Parsed> parsed = flags.Parse(args);
    ASSERT_FALSE(parsed.ok()) << message;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(message));
  }
}

TEST(FlagSetTest, HelpComesFirstAndListsEveryFlag) {
  Values v;
  FlagSet flags("prog", "usage: prog\n");
  Declare(flags, &v);
  // Nothing after --help is checked, not even the required flag.
  absl::StatusOr<FlagSet::Parsed> parsed = flags.Parse({"--bogus=1", "-h"});
  EXPECT_FALSE(parsed.ok());
  parsed = flags.Parse({"--help", "--bogus"});
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help);
  const std::string help = flags.Help();
  EXPECT_THAT(help, HasSubstr("usage: prog\n"));
  EXPECT_THAT(help, HasSubstr("-n, --ranks N"));
  EXPECT_THAT(help, HasSubstr("(default 4)"));
  EXPECT_THAT(help, HasSubstr("--bytes SIZE"));
  EXPECT_THAT(help, HasSubstr("(required)"));
  EXPECT_THAT(help, HasSubstr("--algo ring|tree|auto"));
  EXPECT_THAT(help, HasSubstr("-h, --help"));
}

TEST(FlagSetTest, ALaunchersProgramIsLeftUntouched) {
  int n = 0;
  FlagSet flags("launcher", "usage: launcher\n", FlagSet::Positionals::kStopAtFirst);
  flags.Int("num-ranks", &n, "ranks").Alias("-n");
  absl::StatusOr<FlagSet::Parsed> parsed =
      flags.Parse({"-n", "4", "--", "prog", "--num-ranks", "9", "--help"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(n, 4);
  EXPECT_THAT(parsed->rest, ElementsAre("prog", "--num-ranks", "9", "--help"));
  parsed = flags.Parse({"-n=2", "prog", "-n", "5"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(n, 2);
  EXPECT_THAT(parsed->rest, ElementsAre("prog", "-n", "5"));

  FlagSet collecting("tool", "usage: tool\n", FlagSet::Positionals::kCollect);
  collecting.Int("k", &n, "k");
  parsed = collecting.Parse({"a", "--k", "3", "b", "--", "--k"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(n, 3);
  EXPECT_THAT(parsed->rest, ElementsAre("a", "b", "--k"));
}

}  // namespace
}  // namespace crosslink::base
