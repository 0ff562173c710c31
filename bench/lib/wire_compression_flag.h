// The --compress flag of crosslink-bench and crosslink-sim: how an allreduce's float32 messages
// travel (collectives/compression/wire_codec.h), as none, bf16 or int8.
#ifndef CROSSLINK_BENCH_LIB_WIRE_COMPRESSION_FLAG_H_
#define CROSSLINK_BENCH_LIB_WIRE_COMPRESSION_FLAG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "crosslink/base/flags.h"
#include "crosslink/collectives/compression/wire_codec.h"

namespace crosslink::bench {

// Declares --compress in `flags`, writing into *dest (which must outlive parsing).
inline base::FlagSet::Flag& WireCompressionFlag(base::FlagSet& flags,
                                                collectives::WireCompression* dest,
                                                absl::string_view help) {
  return flags
      .Custom(
          "compress", "none|bf16|int8",
          [dest](absl::string_view value) {
            if (collectives::ParseWireCompression(std::string(value).c_str(), dest)) {
              return absl::OkStatus();
            }
            return absl::InvalidArgumentError(absl::StrCat("bad value \"", value, "\""));
          },
          help)
      .DefaultText("none");
}

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_WIRE_COMPRESSION_FLAG_H_
