#include "data_transport.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "communicator_impl.h"

namespace crosslink::runtime {

absl::StatusOr<std::unique_ptr<collectives::ShmContext>> MakeDataContext(
    int rank, uint64_t job_id, const CommunicatorOptions& options) {
  collectives::ShmOptions shm;
  shm.tcp.listen_host = options.listen_host;
  shm.tcp.dead_link_timeout = options.dead_link_timeout;
  // Every data connection proves it holds this key (challenge-response, tcp_transport.h).
  shm.tcp.job_key = collectives::DeriveJobKey(options.job_token);
  if (options.data_tls) {
    if (options.coordinator_tls_ca_file.empty() || options.coordinator_tls_cert_file.empty() ||
        options.coordinator_tls_key_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rank ", rank,
          ": data TLS (CROSSLINK_DATA_TLS=1) needs a CA, a certificate and its key on every rank "
          "(CROSSLINK_TLS_CA, CROSSLINK_TLS_CERT, CROSSLINK_TLS_KEY); missing:",
          options.coordinator_tls_ca_file.empty() ? " CA" : "",
          options.coordinator_tls_cert_file.empty() ? " certificate" : "",
          options.coordinator_tls_key_file.empty() ? " key" : ""));
    }
    shm.tcp.tls = collectives::TcpTlsOptions{options.coordinator_tls_ca_file,
                                             options.coordinator_tls_cert_file,
                                             options.coordinator_tls_key_file};
  }
  // Shared memory stays allowed with TLS: its bytes never leave the host, the segment is offered
  // over the TLS connection and tagged with that connection's session key, and whoever could
  // read it (this user or root) could read the ranks' memory anyway.
  shm.offer = false;
  shm.accept = options.transport != DataTransport::kTcp;
  return collectives::MakeShmContext(rank, job_id, shm);
}

namespace {

// "host:port" or "[host]:port" split at the last colon, brackets removed; false without a colon.
bool SplitAddress(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> RegisteredDataAddress(const std::string& listen_address,
                                                  const std::string& coordinator_address) {
  std::string host, port, coordinator_host, coordinator_port;
  if (!SplitAddress(listen_address, &host, &port)) return listen_address;
  if (host != "0.0.0.0" && host != "::") return listen_address;
  auto fail = [&](const std::string& why) {
    return absl::FailedPreconditionError(
        absl::StrCat("data address ", listen_address,
                     " listens on every interface, and this host's address "
                     "toward the coordinator ",
                     coordinator_address, " cannot be found (", why,
                     "); set CROSSLINK_LISTEN_HOST to an address the other ranks can reach"));
  };
  if (!SplitAddress(coordinator_address, &coordinator_host, &coordinator_port)) {
    return fail("not host:port");
  }
  addrinfo hints{};
  hints.ai_family = host == "::" ? AF_UNSPEC : AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* resolved = nullptr;
  if (const int rc =
          ::getaddrinfo(coordinator_host.c_str(), coordinator_port.c_str(), &hints, &resolved);
      rc != 0) {
    return fail(::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> cleanup(resolved, ::freeaddrinfo);
  // A connected UDP socket sends nothing; connecting only makes the kernel choose the route and
  // with it the source address.
  const int fd = ::socket(resolved->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket failed");
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  const bool routed = ::connect(fd, resolved->ai_addr, resolved->ai_addrlen) == 0 &&
                      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0;
  ::close(fd);
  if (!routed) return fail("no route");
  char name[NI_MAXHOST] = "";
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&local), len, name, sizeof(name), nullptr, 0,
                    NI_NUMERICHOST) != 0) {
    return fail("cannot print the local address");
  }
  return local.ss_family == AF_INET6 ? absl::StrCat("[", name, "]:", port)
                                     : absl::StrCat(name, ":", port);
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
    const std::vector<std::unique_ptr<collectives::Connection>>& connections, bool data_tls) {
  int shm = 0;
  int tcp = 0;
  for (const auto& connection : connections) {
    if (connection == nullptr) continue;
    ++(collectives::IsSharedMemoryConnection(*connection) ? shm : tcp);
  }
  auto ranks = [](int k) { return absl::StrCat(k, k == 1 ? " rank" : " ranks"); };
  std::vector<std::string> parts;
  if (shm > 0) parts.push_back(absl::StrCat("shm to ", ranks(shm)));
  if (tcp > 0) parts.push_back(absl::StrCat(data_tls ? "tcp+tls to " : "tcp to ", ranks(tcp)));
  return parts.empty() ? "no peers" : absl::StrJoin(parts, ", ");
}

const std::string& Communicator::transport_summary() const { return impl_->transport_summary; }

}  // namespace crosslink::runtime
