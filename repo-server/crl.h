// Certificate revocation lists for the device CA (--crl). gRPC enforces CRLs it finds in an
// OpenSSL hashed directory (<issuer-name-hash>.r<N>), checking every certificate of a device's
// chain (X509_V_FLAG_CRL_CHECK_ALL): a revoked device certificate fails the TLS handshake. This
// module checks the operator's PEM file at start and lays it out in such a directory.
//
// Checks (kInvalidArgument/kCrypto naming the CRL): at least one CRL; each is signed by a CA
// certificate of the client CA bundle; none is past its nextUpdate at start (a stale CRL is
// refused: the server would otherwise reject every device once OpenSSL considers it expired).
// Every CA of the bundle needs a CRL (CRL_CHECK_ALL fails chains whose issuer has none).
//
// Ownership: CrlDirectory owns a private temporary directory (mode 0700) and removes it on
// destruction. Thread-safety: Add must not run concurrently with itself (the reload thread).
#ifndef MDU_REPO_SERVER_CRL_H_
#define MDU_REPO_SERVER_CRL_H_

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "core/common/error.h"

namespace mdu::server {

class CrlDirectory {
 public:
  // Parses `crl_pem` (one or more PEM X509 CRLs) against `ca_pem` (the --client-ca bundle) at
  // unix time `now` and writes the hashed directory.
  static Result<std::unique_ptr<CrlDirectory>> Create(const std::string& crl_pem,
                                                      const std::string& ca_pem, int64_t now);
  ~CrlDirectory();
  CrlDirectory(const CrlDirectory&) = delete;
  CrlDirectory& operator=(const CrlDirectory&) = delete;

  // A new version of the CRL file (SIGHUP reload), checked like Create's, written beside the
  // ones in use under the next free suffix (<hash>.r<N+1>). gRPC 1.51's TLS credentials keep one
  // OpenSSL X509_STORE with a hashed-directory lookup for the server's lifetime, and OpenSSL
  // consults that lookup for CRLs on every verification (new suffixes are loaded as they appear;
  // among equally valid CRLs of an issuer it uses the one with the latest lastUpdate), so the
  // new CRL applies to the next handshake. Hence each new CRL must have a later lastUpdate than
  // the one in use for its issuer (kInvalidArgument otherwise); nothing is written when any CRL
  // of the file is refused. Connections already established are not re-checked.
  Status Add(const std::string& crl_pem, const std::string& ca_pem, int64_t now);

  const std::filesystem::path& path() const { return path_; }
  // Of the last file loaded (Create or Add).
  size_t crl_count() const { return count_; }
  size_t revoked_count() const { return revoked_; }

 private:
  CrlDirectory(std::filesystem::path path) : path_(std::move(path)) {}

  struct Issued {
    int files = 0;            // suffixes used for this issuer hash
    int64_t last_update = 0;  // of the newest CRL written for it
  };
  std::filesystem::path path_;
  std::map<unsigned long, Issued> issued_;
  size_t count_ = 0;
  size_t revoked_ = 0;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_CRL_H_
