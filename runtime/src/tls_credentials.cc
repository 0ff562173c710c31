#include "tls_credentials.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace crosslink::runtime {

absl::StatusOr<std::string> ReadPemFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("coordinator TLS: cannot read the ", what, " file '", path, "'"));
  }
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat("coordinator TLS: the ", what, " file '", path,
                                                   "' is over ", kMaxPemBytes, " bytes"));
  }
  // gRPC would only say "handshake failed" later; say which file is wrong now.
  if (!absl::StrContains(text, "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator TLS: the ", what, " file '", path, "' holds no PEM block"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CoordinatorServerCredentials(
    const std::string& cert_file, const std::string& key_file) {
  if (cert_file.empty() && key_file.empty()) return grpc::InsecureServerCredentials();
  if (cert_file.empty() || key_file.empty()) {
    return absl::InvalidArgumentError(
        "coordinator TLS: the server needs both a certificate file and a key file "
        "(CROSSLINK_TLS_CERT and CROSSLINK_TLS_KEY)");
  }
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.private_key, ReadPemFile(key_file, "private key"));
  ASSIGN_OR_RETURN(pair.cert_chain, ReadPemFile(cert_file, "certificate"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CoordinatorChannelCredentials(
    const std::string& ca_file) {
  if (ca_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadPemFile(ca_file, "CA"));
  return grpc::SslCredentials(options);
}

}  // namespace crosslink::runtime
