// TLS for the coordinator's gRPC channel: server and channel credentials from PEM files, so that
// the job token (carried in every request) never crosses a network in clear. Private to the
// runtime; users name the files in CoordinatorOptions / CoordinatorClientOptions, crosslink-run's
// --tls-* flags or CROSSLINK_TLS_CERT / CROSSLINK_TLS_KEY / CROSSLINK_TLS_CA.
#ifndef CROSSLINK_RUNTIME_SRC_TLS_CREDENTIALS_H_
#define CROSSLINK_RUNTIME_SRC_TLS_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace crosslink::runtime {

// The files' contents, at most kMaxPemBytes each. kNotFound / kInvalidArgument naming the file
// (unreadable, empty, too large, not PEM).
inline constexpr size_t kMaxPemBytes = 1 << 20;
absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what);

// Server credentials: TLS with cert_file + key_file (clients are authenticated by the job token,
// which TLS keeps secret; no client certificates). Insecure when both are empty;
// kInvalidArgument when only one is set.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CoordinatorServerCredentials(
    const std::string& cert_file, const std::string& key_file);

// Channel credentials: TLS verifying the server against the CA certificates of ca_file (for a
// self-signed server certificate, the certificate itself); the address's host must match the
// certificate (an IP address SAN for "127.0.0.1:port"). Insecure when ca_file is empty.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CoordinatorChannelCredentials(
    const std::string& ca_file);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_TLS_CREDENTIALS_H_
