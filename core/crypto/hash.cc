#include "core/crypto/hash.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/common/hex.h"
#include "core/crypto/evp_backend.h"

namespace mdu::crypto {

struct Hasher::Impl {
  struct CtxDeleter {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, CtxDeleter> ctx;
  const EVP_MD* md = nullptr;
};

namespace {

// OpenSSL 3 re-fetches the implementation on every EVP_DigestInit_ex(EVP_sha256()); fetching
// once per process avoids a lock and a lookup per hash (visible on small metadata files).
const EVP_MD* FetchedMd(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return internal::Sha256Md();
    case HashAlgorithm::kSha512: {
      static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA512", nullptr);
      return md;
    }
  }
  std::abort();
}

// An allocation or init failure of a fixed, built-in digest means the process is broken
// (out of memory, broken OpenSSL install); there is no sensible error to hand up from Update.
void CheckOrAbort(int ok, const char* what) {
  if (ok != 1) {
    std::fprintf(stderr, "mdu::crypto: %s failed\n", what);
    std::abort();
  }
}

}  // namespace

namespace internal {

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace internal

std::string_view HashAlgorithmName(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return "sha256";
    case HashAlgorithm::kSha512:
      return "sha512";
  }
  return "unknown";
}

std::optional<HashAlgorithm> HashAlgorithmFromName(std::string_view name) {
  if (name == "sha256") return HashAlgorithm::kSha256;
  if (name == "sha512") return HashAlgorithm::kSha512;
  return std::nullopt;
}

size_t DigestSize(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kSha256:
      return 32;
    case HashAlgorithm::kSha512:
      return 64;
  }
  return 0;
}

Hasher::Hasher(HashAlgorithm algorithm) : algorithm_(algorithm), impl_(std::make_unique<Impl>()) {
  impl_->md = FetchedMd(algorithm);
  if (impl_->md == nullptr) CheckOrAbort(0, "EVP_MD_fetch");
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx) CheckOrAbort(0, "EVP_MD_CTX_new");
  CheckOrAbort(EVP_DigestInit_ex(impl_->ctx.get(), impl_->md, nullptr), "EVP_DigestInit_ex");
}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(std::span<const uint8_t> data) {
  if (data.empty()) return;
  CheckOrAbort(EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()), "EVP_DigestUpdate");
}

void Hasher::Update(std::string_view data) { Update(AsBytes(data)); }

std::vector<uint8_t> Hasher::Finish() {
  std::vector<uint8_t> digest(DigestSize(algorithm_));
  unsigned int size = 0;
  CheckOrAbort(EVP_DigestFinal_ex(impl_->ctx.get(), digest.data(), &size), "EVP_DigestFinal_ex");
  digest.resize(size);
  CheckOrAbort(EVP_DigestInit_ex(impl_->ctx.get(), impl_->md, nullptr), "EVP_DigestInit_ex");
  return digest;
}

std::string Hasher::FinishHex() { return HexEncode(Finish()); }

std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::span<const uint8_t> data) {
  Hasher hasher(algorithm);
  hasher.Update(data);
  return hasher.Finish();
}

std::string DigestHex(HashAlgorithm algorithm, std::string_view data) {
  return HexEncode(Digest(algorithm, AsBytes(data)));
}

MultiHasher::MultiHasher(std::span<const HashAlgorithm> algorithms) {
  hashers_.reserve(algorithms.size());
  for (HashAlgorithm algorithm : algorithms) hashers_.emplace_back(algorithm);
}

void MultiHasher::Update(std::span<const uint8_t> data) {
  for (Hasher& hasher : hashers_) hasher.Update(data);
  length_ += data.size();
}

std::vector<std::pair<std::string, std::string>> MultiHasher::FinishHex() {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(hashers_.size());
  for (Hasher& hasher : hashers_) {
    out.emplace_back(std::string(HashAlgorithmName(hasher.algorithm())), hasher.FinishHex());
  }
  return out;
}

Result<FileDigests> HashFile(const std::string& path, std::span<const HashAlgorithm> algorithms) {
  // 256 KiB reads hash as fast as 1 MiB ones (the page cache copy is not the cost) and keep
  // the agent's re-hash of a staged target 0.75 MiB lighter (its 16 MiB budget).
  constexpr size_t kBlockSize = 256u << 10;
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    return MakeError(ErrorKind::kIo, "cannot open \"" + path + "\": " + std::strerror(errno));
  }
  MultiHasher hasher(algorithms);
  std::vector<uint8_t> buffer(kBlockSize);
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      ::close(fd);
      return MakeError(ErrorKind::kIo, "cannot read \"" + path + "\": " + std::strerror(saved));
    }
    if (n == 0) break;
    hasher.Update(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n)));
  }
  // close() on a read-only descriptor cannot lose data; its error is not actionable here.
  ::close(fd);
  FileDigests digests;
  digests.length = hasher.length();
  digests.hex = hasher.FinishHex();
  return digests;
}

bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace mdu::crypto
