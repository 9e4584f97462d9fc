#include "core/crypto/hash.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/common/hex.h"

namespace mdu::crypto {
namespace {

constexpr char kSha256Empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kSha256Abc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kSha256TwoBlocks[] =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kSha512Empty[] =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
constexpr char kSha512Abc[] =
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
constexpr char kTwoBlockMessage[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

constexpr std::array<HashAlgorithm, 2> kBoth = {HashAlgorithm::kSha256, HashAlgorithm::kSha512};

std::vector<uint8_t> PatternBytes(size_t size) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
  return data;
}

TEST(HashTest, NistVectors) {
  EXPECT_EQ(Sha256Hex(""), kSha256Empty);
  EXPECT_EQ(Sha256Hex("abc"), kSha256Abc);
  EXPECT_EQ(Sha256Hex(kTwoBlockMessage), kSha256TwoBlocks);
  EXPECT_EQ(DigestHex(HashAlgorithm::kSha512, ""), kSha512Empty);
  EXPECT_EQ(DigestHex(HashAlgorithm::kSha512, "abc"), kSha512Abc);
}

TEST(HashTest, NamesAndSizes) {
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSha256), "sha256");
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSha512), "sha512");
  EXPECT_EQ(HashAlgorithmFromName("sha256"), HashAlgorithm::kSha256);
  EXPECT_EQ(HashAlgorithmFromName("sha512"), HashAlgorithm::kSha512);
  EXPECT_EQ(HashAlgorithmFromName("SHA256"), std::nullopt);
  EXPECT_EQ(HashAlgorithmFromName("md5"), std::nullopt);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha256), 32u);
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha512), 64u);
  EXPECT_EQ(Digest(HashAlgorithm::kSha512, AsBytes("abc")).size(), 64u);
}

TEST(HashTest, StreamingEqualsOneShotAndFinishResets) {
  Hasher hasher(HashAlgorithm::kSha256);
  hasher.Update("a");
  hasher.Update(std::string_view());
  hasher.Update(AsBytes("bc"));
  EXPECT_EQ(hasher.FinishHex(), kSha256Abc);
  // Finish resets: the same hasher now hashes a fresh message.
  EXPECT_EQ(hasher.FinishHex(), kSha256Empty);
  hasher.Update("abc");
  Hasher moved = std::move(hasher);
  EXPECT_EQ(moved.FinishHex(), kSha256Abc);
}

TEST(HashTest, MultiHasherEqualsOneShot) {
  const std::vector<uint8_t> data = PatternBytes(3 * 1000 * 1000 + 7);
  MultiHasher multi(kBoth);
  for (size_t offset = 0; offset < data.size(); offset += 65537) {
    const size_t n = std::min<size_t>(65537, data.size() - offset);
    multi.Update(std::span(data).subspan(offset, n));
  }
  EXPECT_EQ(multi.length(), data.size());
  const auto hex = multi.FinishHex();
  ASSERT_EQ(hex.size(), 2u);
  EXPECT_EQ(hex[0].first, "sha256");
  EXPECT_EQ(hex[0].second, HexEncode(Digest(HashAlgorithm::kSha256, data)));
  EXPECT_EQ(hex[1].first, "sha512");
  EXPECT_EQ(hex[1].second, HexEncode(Digest(HashAlgorithm::kSha512, data)));
}

class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& content) {
    char name[] = "/tmp/mdu_crypto_test_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(HashTest, HashFileMatchesInMemoryDigests) {
  // Spans several 1 MiB read blocks and ends mid-block.
  const std::vector<uint8_t> data = PatternBytes((5u << 20) / 2 + 3);
  TempFile file(data);
  auto digests = HashFile(file.path(), kBoth);
  ASSERT_TRUE(digests) << digests.error().ToString();
  EXPECT_EQ(digests->length, data.size());
  ASSERT_EQ(digests->hex.size(), 2u);
  EXPECT_EQ(digests->hex[0].second, HexEncode(Digest(HashAlgorithm::kSha256, data)));
  EXPECT_EQ(digests->hex[1].second, HexEncode(Digest(HashAlgorithm::kSha512, data)));
}

TEST(HashTest, HashFileOfEmptyFile) {
  TempFile file({});
  auto digests = HashFile(file.path(), kBoth);
  ASSERT_TRUE(digests) << digests.error().ToString();
  EXPECT_EQ(digests->length, 0u);
  EXPECT_EQ(digests->hex[0].second, kSha256Empty);
  EXPECT_EQ(digests->hex[1].second, kSha512Empty);
}

TEST(HashTest, HashFileOfMissingFileIsIoErrorNamingThePath) {
  const std::string path = "/nonexistent-dir-mdu/target.bin";
  auto digests = HashFile(path, kBoth);
  ASSERT_FALSE(digests);
  EXPECT_EQ(digests.error().kind(), ErrorKind::kIo);
  EXPECT_NE(digests.error().message().find(path), std::string::npos);
  EXPECT_NE(digests.error().message().find("No such file"), std::string::npos);
}

TEST(HashTest, HashFileOfDirectoryIsIoError) {
  auto digests = HashFile("/tmp", kBoth);
  ASSERT_FALSE(digests);
  EXPECT_EQ(digests.error().kind(), ErrorKind::kIo);
}

TEST(HashTest, ConstantTimeEquals) {
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> b = {1, 2, 3};
  const std::vector<uint8_t> c = {1, 2, 4};
  const std::vector<uint8_t> d = {1, 2};
  EXPECT_TRUE(ConstantTimeEquals(a, b));
  EXPECT_FALSE(ConstantTimeEquals(a, c));
  EXPECT_FALSE(ConstantTimeEquals(a, d));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
}

}  // namespace
}  // namespace mdu::crypto
