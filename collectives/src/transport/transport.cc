// The defaults of Connection::RecvAllocated and RecvPieces, for backends that do not offer them.
#include "crosslink/collectives/transport/transport.h"

#include "absl/strings/str_cat.h"
#include "crosslink/collectives/transport/completion.h"

namespace crosslink::collectives {

std::shared_ptr<RecvHandle> Connection::RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) {
  (void)out;
  auto what = std::make_shared<const std::string>(absl::StrCat("recv on ", Describe()));
  return MakeCompleted(
      absl::UnimplementedError(absl::StrCat(Describe(), ": this transport has no RecvAllocated")),
      what);
}

std::shared_ptr<RecvHandle> Connection::RecvPieces(uint64_t max_bytes,
                                                   std::shared_ptr<PieceSink> sink) {
  (void)max_bytes;
  (void)sink;
  auto what = std::make_shared<const std::string>(absl::StrCat("recv on ", Describe()));
  return MakeCompleted(
      absl::UnimplementedError(absl::StrCat(Describe(), ": this transport has no RecvPieces")),
      what);
}

}  // namespace crosslink::collectives
