#include "repo-server/crl.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <system_error>
#include <utility>
#include <vector>

#include "core/io/file.h"

namespace mdu::server {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CrlFree {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlFree>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string IssuerText(const X509_CRL* crl) {
  char buffer[256];
  X509_NAME_oneline(X509_CRL_get_issuer(crl), buffer, sizeof buffer);
  return buffer;
}

}  // namespace

Result<std::unique_ptr<CrlDirectory>> CrlDirectory::Create(const std::string& crl_pem,
                                                           const std::string& ca_pem, int64_t now) {
  char templ[] = "/tmp/repo-server-crl-XXXXXX";
  const char* made = mkdtemp(templ);
  if (made == nullptr) return MakeError(ErrorKind::kIo, "cannot create a CRL directory in /tmp");
  std::unique_ptr<CrlDirectory> dir(new CrlDirectory(made));
  MDU_RETURN_IF_ERROR(dir->Add(crl_pem, ca_pem, now));
  return dir;
}

Status CrlDirectory::Add(const std::string& crl_pem, const std::string& ca_pem, int64_t now) {
  std::vector<X509Ptr> cas;
  {
    BioPtr bio = MemoryBio(ca_pem);
    while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) cas.emplace_back(ca);
  }
  if (cas.empty()) return MakeError(ErrorKind::kInvalidArgument, "client CA: no certificate");
  std::vector<CrlPtr> crls;
  {
    BioPtr bio = MemoryBio(crl_pem);
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      crls.emplace_back(crl);
    }
  }
  if (crls.empty()) {
    return MakeError(ErrorKind::kInvalidArgument, "CRL file: no PEM X509 CRL in it");
  }

  // Every CRL is checked before any is written: a refused file changes nothing.
  time_t at = static_cast<time_t>(now);
  std::vector<std::pair<std::string, std::string>> files;  // name, PEM
  std::map<unsigned long, Issued> next = issued_;
  size_t revoked_total = 0;
  for (const CrlPtr& crl : crls) {
    std::string issuer = IssuerText(crl.get());
    const X509* signer = nullptr;
    for (const X509Ptr& ca : cas) {
      if (X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_CRL_get_issuer(crl.get())) != 0) {
        continue;
      }
      EVP_PKEY* key = X509_get0_pubkey(ca.get());
      if (key != nullptr && X509_CRL_verify(crl.get(), key) == 1) signer = ca.get();
    }
    if (signer == nullptr) {
      return MakeError(ErrorKind::kCrypto,
                       "CRL of " + issuer + ": not signed by a certificate of the client CA");
    }
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl.get());
    if (next_update != nullptr && X509_cmp_time(next_update, &at) < 0) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "CRL of " + issuer + " is past its nextUpdate: publish a fresh CRL");
    }
    struct tm last_tm {};
    if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(crl.get()), &last_tm) != 1) {
      return MakeError(ErrorKind::kInvalidArgument, "CRL of " + issuer + ": bad lastUpdate");
    }
    const int64_t last_update = static_cast<int64_t>(timegm(&last_tm));
    const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    revoked_total += revoked == nullptr ? 0 : static_cast<size_t>(sk_X509_REVOKED_num(revoked));
    unsigned long hash =
        X509_NAME_hash_ex(X509_CRL_get_issuer(crl.get()), nullptr, nullptr, nullptr);
    Issued& issued = next[hash];
    // OpenSSL keeps every CRL it has loaded and, among equally good ones, uses the one with the
    // latest lastUpdate: a replacement must be newer or it would not take effect.
    if (issued.files > 0 && last_update <= issued.last_update) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "CRL of " + issuer + " is not newer (lastUpdate) than the one in use");
    }
    char name[32];
    std::snprintf(name, sizeof name, "%08lx.r%d", hash, issued.files++);
    issued.last_update = last_update;
    BioPtr out(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_X509_CRL(out.get(), crl.get()) != 1) {
      return MakeError(ErrorKind::kInternal, "cannot encode the CRL of " + issuer);
    }
    char* data = nullptr;
    long size = BIO_get_mem_data(out.get(), &data);
    files.emplace_back(name, std::string(data, static_cast<size_t>(size)));
  }
  for (const auto& [name, pem] : files) {
    MDU_RETURN_IF_ERROR(io::WriteFileAtomically(path_ / name, pem));
  }
  issued_ = std::move(next);
  count_ = crls.size();
  revoked_ = revoked_total;
  return {};
}

CrlDirectory::~CrlDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace mdu::server
