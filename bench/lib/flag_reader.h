// Command-line helpers of the benchmark programs (crosslink-bench's allreduce and orbit modes,
// crosslink-sim): one flag-splitting rule and one byte-size syntax for all of them.
#ifndef CROSSLINK_BENCH_LIB_FLAG_READER_H_
#define CROSSLINK_BENCH_LIB_FLAG_READER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace crosslink::bench {

// Reads argv[i] (and argv[i + 1] when the value is separate, advancing i past it).
// kInvalidArgument naming the flag, followed by `usage`, when the value is missing.
inline absl::StatusOr<std::pair<std::string, std::string>> TakeFlagValue(
    const std::vector<std::string>& argv, size_t& i, std::string_view usage) {
  std::string flag = argv[i];
  std::string value;
  if (auto eq = flag.find('='); eq != std::string::npos) {
    value = flag.substr(eq + 1);
    flag.resize(eq);
  } else if (i + 1 < argv.size()) {
    value = argv[++i];
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " needs a value\n", absl::string_view(usage.data(), usage.size())));
  }
  return std::make_pair(std::move(flag), std::move(value));
}

// Parses a byte count with an optional binary suffix: 4096, 64K, 16M, 1G (also KiB/MB forms);
// kInvalidArgument naming the flag for anything else or a size <= 0.
inline absl::StatusOr<int64_t> ParseByteSize(const std::string& flag, std::string text) {
  int64_t scale = 1;
  for (const char* suffix : {"iB", "B"}) {
    if (text.size() > std::string(suffix).size() && text.ends_with(suffix)) {
      text.resize(text.size() - std::string(suffix).size());
      break;
    }
  }
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        scale = int64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        scale = int64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        scale = int64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.pop_back();
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": not a positive size: \"", text, "\""));
  }
  return value * scale;
}

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_FLAG_READER_H_
