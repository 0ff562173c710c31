// TakeFlagValue: splits the next command-line flag of a benchmark program into its name and value,
// accepting both "--flag value" and "--flag=value". The one flag-splitting rule of the bench
// programs (crosslink-bench's allreduce and orbit modes).
#ifndef CROSSLINK_BENCH_LIB_FLAG_READER_H_
#define CROSSLINK_BENCH_LIB_FLAG_READER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
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

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_FLAG_READER_H_
