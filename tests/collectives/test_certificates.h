// Test helper: a throwaway certificate authority in a fresh folder under /tmp, made with the
// openssl command line (P-256 keys: instant), that issues certificates for 127.0.0.1. Its own
// certificate is self-signed and names 127.0.0.1 too, so it also serves as a server's
// self-signed pair (the coordinator's TLS tests). The folder is removed with the object.
#ifndef CROSSLINK_TESTS_COLLECTIVES_TEST_CERTIFICATES_H_
#define CROSSLINK_TESTS_COLLECTIVES_TEST_CERTIFICATES_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"

namespace crosslink::collectives::testing {

class TestCertificates {
 public:
  // Makes the authority "<name>" (cert() / key()); ok() says whether openssl succeeded.
  explicit TestCertificates(const std::string& name) {
    char tmpl[] = "/tmp/crosslink-tls-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    dir_ = tmpl;
    ok_ = Run(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
                           " -nodes -days 1 -subj /CN=", name,
                           " -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout ",
                           key_path(name), " -out ", cert_path(name)));
    name_ = name;
  }
  ~TestCertificates() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  bool ok() const { return ok_; }
  // The authority's own (self-signed) certificate and key.
  std::string cert() const { return cert_path(name_); }
  std::string key() const { return key_path(name_); }
  std::filesystem::path dir() const { return dir_; }

  // Issues the certificate "<leaf>" (for 127.0.0.1, no extendedKeyUsage: usable as client and
  // as server) signed by this authority, at cert_path(leaf) / key_path(leaf). False when
  // openssl fails.
  bool Issue(const std::string& leaf) const {
    return ok_ &&
           Run(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1",
                            " -nodes -days 1 -subj /CN=", leaf, " -CA ", cert(), " -CAkey ", key(),
                            " -addext subjectAltName=IP:127.0.0.1",
                            " -addext basicConstraints=critical,CA:FALSE -keyout ", key_path(leaf),
                            " -out ", cert_path(leaf)));
  }
  std::string cert_path(const std::string& leaf) const { return (dir_ / (leaf + ".crt")).string(); }
  std::string key_path(const std::string& leaf) const { return (dir_ / (leaf + ".key")).string(); }

 private:
  static bool Run(const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  }

  std::filesystem::path dir_;
  std::string name_;
  bool ok_ = false;
};

}  // namespace crosslink::collectives::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_TEST_CERTIFICATES_H_
