// The default of Connection::RecvAllocated, for backends that do not offer it.
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

}  // namespace crosslink::collectives
