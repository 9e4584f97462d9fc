// Hash throughput and signature verification cost per scheme; the ed25519 pair of benchmarks
// measures the libsodium/OpenSSL crossover used by PublicKey::Verify
// (internal::kEd25519OpensslMinMessageSize).
#include <benchmark/benchmark.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/crypto/ed25519_backends.h"
#include "core/crypto/hash.h"
#include "core/crypto/keys.h"

namespace mdu::crypto {
namespace {

std::vector<uint8_t> Bytes(size_t size) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  return data;
}

const PrivateKey& Key(KeyScheme scheme) {
  static std::array<PrivateKey*, 3> keys = {};
  PrivateKey*& slot = keys[static_cast<size_t>(scheme)];
  if (slot == nullptr) {
    auto key = PrivateKey::Generate(scheme);
    if (!key) {
      std::fprintf(stderr, "%s\n", key.error().ToString().c_str());
      std::abort();
    }
    slot = new PrivateKey(std::move(*key));  // lives for the whole run
  }
  return *slot;
}

void BM_Hash(benchmark::State& state, HashAlgorithm algorithm) {
  const std::vector<uint8_t> data = Bytes(1 << 20);
  Hasher hasher(algorithm);
  for (auto _ : state) {
    hasher.Update(data);
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK_CAPTURE(BM_Hash, sha256, HashAlgorithm::kSha256);
BENCHMARK_CAPTURE(BM_Hash, sha512, HashAlgorithm::kSha512);

void BM_MultiHashSha256Sha512(benchmark::State& state) {
  const std::vector<uint8_t> data = Bytes(1 << 20);
  const std::array<HashAlgorithm, 2> both = {HashAlgorithm::kSha256, HashAlgorithm::kSha512};
  for (auto _ : state) {
    MultiHasher hasher(both);
    hasher.Update(data);
    benchmark::DoNotOptimize(hasher.FinishHex());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_MultiHashSha256Sha512);

void BM_Ed25519Verify(benchmark::State& state, internal::Ed25519Backend backend) {
  const PrivateKey& key = Key(KeyScheme::kEd25519);
  const std::vector<uint8_t> message = Bytes(static_cast<size_t>(state.range(0)));
  const std::vector<uint8_t> signature = *key.Sign(message);
  for (auto _ : state) {
    bool ok = internal::VerifyEd25519With(backend, key.public_key(), message, signature);
    if (!ok) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
void Ed25519Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {256, 4 << 10, 16 << 10, 32 << 10, 64 << 10, 96 << 10, 128 << 10, 256 << 10,
                       1 << 20, 16 << 20}) {
    b->Arg(size);
  }
}
BENCHMARK_CAPTURE(BM_Ed25519Verify, libsodium, internal::Ed25519Backend::kLibsodium)
    ->Apply(Ed25519Sizes);
BENCHMARK_CAPTURE(BM_Ed25519Verify, openssl, internal::Ed25519Backend::kOpenssl)
    ->Apply(Ed25519Sizes);

// PublicKey::Verify as callers see it (backend chosen by size).
void BM_Verify(benchmark::State& state, KeyScheme scheme) {
  const PrivateKey& key = Key(scheme);
  const std::vector<uint8_t> message = Bytes(static_cast<size_t>(state.range(0)));
  const std::vector<uint8_t> signature = *key.Sign(message);
  for (auto _ : state) {
    bool ok = key.public_key().Verify(message, signature);
    if (!ok) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK_CAPTURE(BM_Verify, ed25519, KeyScheme::kEd25519)->Arg(1 << 10);
BENCHMARK_CAPTURE(BM_Verify, ecdsa_p256, KeyScheme::kEcdsaP256)->Arg(1 << 10);
BENCHMARK_CAPTURE(BM_Verify, rsa3072_pss, KeyScheme::kRsaPssSha256)->Arg(1 << 10);

void BM_Sign(benchmark::State& state, KeyScheme scheme) {
  const PrivateKey& key = Key(scheme);
  const std::vector<uint8_t> message = Bytes(1 << 10);
  for (auto _ : state) benchmark::DoNotOptimize(key.Sign(message));
}
BENCHMARK_CAPTURE(BM_Sign, ed25519, KeyScheme::kEd25519);
BENCHMARK_CAPTURE(BM_Sign, ecdsa_p256, KeyScheme::kEcdsaP256);
BENCHMARK_CAPTURE(BM_Sign, rsa3072_pss, KeyScheme::kRsaPssSha256);

}  // namespace
}  // namespace mdu::crypto

BENCHMARK_MAIN();
