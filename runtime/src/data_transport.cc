#include "data_transport.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "communicator_impl.h"

namespace crosslink::runtime {

absl::StatusOr<std::unique_ptr<collectives::ShmContext>> MakeDataContext(
    int rank, uint64_t job_id, const CommunicatorOptions& options) {
  collectives::ShmOptions shm;
  shm.tcp.listen_host = options.listen_host;
  shm.offer = false;
  shm.accept = options.transport != DataTransport::kTcp;
  return collectives::MakeShmContext(rank, job_id, shm);
}

void SetSharedMemoryOffer(collectives::ShmContext& context, DataTransport transport,
                          bool ideal_job) {
  context.set_offer_shared_memory(transport == DataTransport::kShm ||
                                  (transport == DataTransport::kAuto && ideal_job));
}

absl::StatusOr<DataTransport> ParseDataTransport(std::string_view text) {
  if (text == "auto") return DataTransport::kAuto;
  if (text == "tcp") return DataTransport::kTcp;
  if (text == "shm") return DataTransport::kShm;
  return absl::InvalidArgumentError(absl::StrCat(
      "data transport must be \"auto\", \"tcp\" or \"shm\", got \"", std::string(text), "\""));
}

std::string SummarizeTransports(
    const std::vector<std::unique_ptr<collectives::Connection>>& connections) {
  int shm = 0;
  int tcp = 0;
  for (const auto& connection : connections) {
    if (connection == nullptr) continue;
    ++(collectives::IsSharedMemoryConnection(*connection) ? shm : tcp);
  }
  auto ranks = [](int k) { return absl::StrCat(k, k == 1 ? " rank" : " ranks"); };
  std::vector<std::string> parts;
  if (shm > 0) parts.push_back(absl::StrCat("shm to ", ranks(shm)));
  if (tcp > 0) parts.push_back(absl::StrCat("tcp to ", ranks(tcp)));
  return parts.empty() ? "no peers" : absl::StrJoin(parts, ", ");
}

const std::string& Communicator::transport_summary() const { return impl_->transport_summary; }

}  // namespace crosslink::runtime
