// SecureBuffer (secrets wipe themselves) and the sealing primitives (Argon2id, XChaCha20-Poly1305).
#include "signer/keystore/secure_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/common/hex.h"
#include "signer/keystore/sealing.h"

namespace mdu::signer {
namespace {

// What the wipe observer saw: storage is inspected after the wipe and before it is freed, so
// the test never reads freed memory.
struct WipeRecord {
  int calls = 0;
  size_t last_capacity = 0;
  bool last_all_zero = false;
};
WipeRecord g_record;

void RecordWipe(const uint8_t* data, size_t capacity) {
  ++g_record.calls;
  g_record.last_capacity = capacity;
  g_record.last_all_zero = std::all_of(data, data + capacity, [](uint8_t b) { return b == 0; });
}

class SecureBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_record = {};
    SecureBuffer::SetWipeObserverForTesting(&RecordWipe);
  }
  void TearDown() override { SecureBuffer::SetWipeObserverForTesting(nullptr); }
};

TEST_F(SecureBufferTest, WipesSecretOnDestruction) {
  {
    SecureBuffer secret = SecureBuffer::CopyOf(std::string_view("correct horse battery"));
    EXPECT_EQ(secret.view(), "correct horse battery");
    EXPECT_EQ(g_record.calls, 0);
  }
  EXPECT_EQ(g_record.calls, 1);
  EXPECT_EQ(g_record.last_capacity, 21u);
  EXPECT_TRUE(g_record.last_all_zero);
}

TEST_F(SecureBufferTest, MoveTransfersOwnershipAndEmptiesSource) {
  SecureBuffer a = SecureBuffer::CopyOf(std::string_view("secret"));
  const uint8_t* storage = a.data();
  SecureBuffer b(std::move(a));
  EXPECT_EQ(b.data(), storage);  // no copy of the secret was made
  EXPECT_EQ(b.view(), "secret");
  EXPECT_TRUE(a.empty());  // NOLINT: the moved-from state is the contract
  EXPECT_EQ(a.data(), nullptr);  // NOLINT
  EXPECT_EQ(g_record.calls, 0);
}

TEST_F(SecureBufferTest, MoveAssignmentWipesThePreviousSecret) {
  SecureBuffer target = SecureBuffer::CopyOf(std::string_view("old-secret"));
  SecureBuffer source = SecureBuffer::CopyOf(std::string_view("new"));
  target = std::move(source);
  EXPECT_EQ(g_record.calls, 1);
  EXPECT_EQ(g_record.last_capacity, 10u);
  EXPECT_TRUE(g_record.last_all_zero);
  EXPECT_EQ(target.view(), "new");
}

TEST_F(SecureBufferTest, TruncateWipesTheTail) {
  SecureBuffer buffer = SecureBuffer::CopyOf(std::string_view("abcdef"));
  buffer.Truncate(2);
  EXPECT_EQ(buffer.view(), "ab");
  EXPECT_EQ(buffer.capacity(), 6u);
  for (size_t i = 2; i < buffer.capacity(); ++i) {
    EXPECT_EQ(buffer.data()[i], 0) << i;
  }
}

TEST_F(SecureBufferTest, TakeFromWipesTheSourceVector) {
  std::vector<uint8_t> der = {1, 2, 3, 4, 5};
  SecureBuffer buffer = SecureBuffer::TakeFrom(der);
  EXPECT_EQ(der, std::vector<uint8_t>(5, 0));
  EXPECT_EQ(buffer.size(), 5u);
  EXPECT_EQ(buffer.data()[4], 5);
}

TEST_F(SecureBufferTest, EqualsComparesContents) {
  EXPECT_TRUE(SecureBuffer::CopyOf(std::string_view("abc"))
                  .Equals(SecureBuffer::CopyOf(std::string_view("abc"))));
  EXPECT_FALSE(SecureBuffer::CopyOf(std::string_view("abc"))
                   .Equals(SecureBuffer::CopyOf(std::string_view("abd"))));
  EXPECT_FALSE(SecureBuffer::CopyOf(std::string_view("abc"))
                   .Equals(SecureBuffer::CopyOf(std::string_view("abcd"))));
  EXPECT_TRUE(SecureBuffer().Equals(SecureBuffer(0)));
}

TEST(SealingTest, DeriveKeyIsDeterministicPerSaltAndPassphrase) {
  std::vector<uint8_t> salt(sealing::kSaltBytes, 7);
  std::vector<uint8_t> other_salt(sealing::kSaltBytes, 8);
  const auto limits = sealing::InteractiveLimits();
  auto k1 = sealing::DeriveKey(AsBytes("pass"), salt, limits);
  auto k2 = sealing::DeriveKey(AsBytes("pass"), salt, limits);
  auto k3 = sealing::DeriveKey(AsBytes("pass"), other_salt, limits);
  auto k4 = sealing::DeriveKey(AsBytes("Pass"), salt, limits);
  ASSERT_TRUE(k1 && k2 && k3 && k4);
  EXPECT_EQ(k1->size(), sealing::kKeyBytes);
  EXPECT_TRUE(k1->Equals(*k2));
  EXPECT_FALSE(k1->Equals(*k3));
  EXPECT_FALSE(k1->Equals(*k4));
}

TEST(SealingTest, DeriveKeyRejectsOutOfRangeLimitsAndBadSalt) {
  std::vector<uint8_t> salt(sealing::kSaltBytes, 1);
  sealing::KdfLimits tiny{1, 8192};
  auto weak = sealing::DeriveKey(AsBytes("pass"), salt, tiny);
  ASSERT_FALSE(weak);
  EXPECT_EQ(weak.error().kind(), ErrorKind::kInvalidArgument);
  sealing::KdfLimits huge = sealing::SensitiveLimits();
  huge.memlimit *= 4;
  auto greedy = sealing::DeriveKey(AsBytes("pass"), salt, huge);
  ASSERT_FALSE(greedy);
  EXPECT_EQ(greedy.error().kind(), ErrorKind::kInvalidArgument);
  auto short_salt =
      sealing::DeriveKey(AsBytes("pass"), std::vector<uint8_t>(4, 1), sealing::InteractiveLimits());
  ASSERT_FALSE(short_salt);
  EXPECT_EQ(short_salt.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(SealingTest, SealOpenRoundTripAndAuthentication) {
  SecureBuffer key(sealing::kKeyBytes);
  sealing::RandomBytes(key.span());
  std::vector<uint8_t> nonce(sealing::kNonceBytes);
  sealing::RandomBytes(nonce);
  auto sealed = sealing::Seal(AsBytes("private key bytes"), AsBytes("header"), nonce, key);
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), 17 + sealing::kTagBytes);
  auto opened = sealing::Open(*sealed, AsBytes("header"), nonce, key);
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->view(), "private key bytes");

  auto wrong_aad = sealing::Open(*sealed, AsBytes("Header"), nonce, key);
  ASSERT_FALSE(wrong_aad);
  EXPECT_EQ(wrong_aad.error().kind(), ErrorKind::kCrypto);
  std::vector<uint8_t> flipped = *sealed;
  flipped[3] ^= 0x01;
  EXPECT_FALSE(sealing::Open(flipped, AsBytes("header"), nonce, key));
  std::vector<uint8_t> other_nonce = nonce;
  other_nonce[0] ^= 0x80;
  EXPECT_FALSE(sealing::Open(*sealed, AsBytes("header"), other_nonce, key));
  EXPECT_FALSE(sealing::Open(std::vector<uint8_t>(5, 0), AsBytes("header"), nonce, key));
}

}  // namespace
}  // namespace mdu::signer
