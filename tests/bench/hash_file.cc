// hash_file: our side of the file-hashing comparison with `openssl dgst` (scripts/bench.sh).
// Streams a file once through crypto::HashFile (OpenSSL EVP, 1 MiB reads) and prints one line
// per digest in openssl's format, so the script can check both sides agree:
//
//   hash_file [--sha256] [--sha512] <file>      (default: --sha256)
//   SHA2-256(<file>)= <hex>
//
// With both flags the file is read once and fed to both hashers (what a target download does).
// Exit status: 0 on success, 1 on an I/O error, 2 on bad usage.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/hash.h"

namespace {

int Run(int argc, char** argv) {
  using mdu::crypto::HashAlgorithm;
  std::vector<HashAlgorithm> algorithms;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--sha256") {
      algorithms.push_back(HashAlgorithm::kSha256);
    } else if (arg == "--sha512") {
      algorithms.push_back(HashAlgorithm::kSha512);
    } else if (file.empty() && !arg.starts_with("--")) {
      file = arg;
    } else {
      file.clear();
      break;
    }
  }
  if (file.empty()) {
    std::fprintf(stderr, "usage: hash_file [--sha256] [--sha512] <file>\n");
    return 2;
  }
  if (algorithms.empty()) {
    algorithms.push_back(HashAlgorithm::kSha256);
  }
  auto digests = mdu::crypto::HashFile(file, algorithms);
  if (!digests) {
    std::fprintf(stderr, "hash_file: %s\n", digests.error().ToString().c_str());
    return 1;
  }
  for (const auto& [name, hex] : digests->hex) {
    // openssl 3 prints SHA2-256(file)= ...
    std::printf("SHA2-%s(%s)= %s\n", name.substr(3).c_str(), file.c_str(), hex.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {  // std::bad_alloc from std::string: report, don't abort
    std::fprintf(stderr, "hash_file: %s\n", e.what());
    return 1;
  }
}
