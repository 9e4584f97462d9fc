// Encrypted key files: round trips, wrong passphrases, tampering, malformed files, file modes.
#include "signer/keystore/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/common/hex.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/writer.h"
#include "tests/integration/signer_keys/test_util.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;
using testing::FileMode;
using testing::ReadAll;
using testing::TempDir;
using testing::WriteAll;

const sealing::KdfLimits kFast = sealing::InteractiveLimits();

SecureBuffer Pass(std::string_view text) { return SecureBuffer::CopyOf(text); }

crypto::PrivateKey NewKey(crypto::KeyScheme scheme = crypto::KeyScheme::kEd25519) {
  auto key = crypto::PrivateKey::Generate(scheme);
  if (!key) {
    ADD_FAILURE() << key.error().ToString();
  }
  return std::move(key).value();
}

std::string EncryptedFile(const crypto::PrivateKey& key, std::string_view passphrase = "pw-1") {
  auto text = EncryptKeyFile(key, Pass(passphrase), kFast);
  if (!text) {
    ADD_FAILURE() << text.error().ToString();
  }
  return std::move(text).value();
}

json::Value ParseJson(std::string_view text) {
  auto value = json::Parse(text);
  if (!value) {
    ADD_FAILURE() << value.error().ToString();
  }
  return std::move(value).value();
}

// Changes one hex digit of a string field (keeps it valid hex of the same length).
std::string FlipHexDigit(std::string hex, size_t index) {
  const char c = hex.at(index);
  hex[index] = (c == '0') ? '1' : '0';
  return hex;
}

// Applies `edit` to the parsed key file and serializes it back.
template <class Edit>
std::string Edited(std::string_view text, Edit edit) {
  json::Value file = ParseJson(text);
  edit(file);
  return json::Serialize(file, 2);
}

void ExpectWrongPassphraseError(const Result<crypto::PrivateKey>& result, std::string_view source) {
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kCrypto);
  EXPECT_EQ(result.error().message(),
            "wrong passphrase or corrupted key file " + std::string(source));
}

void ExpectError(const Result<crypto::PrivateKey>& result, ErrorKind kind,
                 std::string_view message_part) {
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), kind) << result.error().ToString();
  EXPECT_NE(result.error().message().find(message_part), std::string::npos)
      << result.error().message();
}

class KeystoreRoundTrip : public ::testing::TestWithParam<crypto::KeyScheme> {};

TEST_P(KeystoreRoundTrip, DecryptsToTheSameKeyThatSigns) {
  crypto::PrivateKey key = NewKey(GetParam());
  const std::string text = EncryptedFile(key, "round trip passphrase");

  auto info = InspectKeyFile(text, "k.key.json");
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->keyid, key.public_key().KeyId());
  EXPECT_EQ(info->scheme, GetParam());
  EXPECT_EQ(info->kdf_limits, kFast);

  auto decrypted = DecryptKeyFile(text, Pass("round trip passphrase"), "k.key.json");
  ASSERT_TRUE(decrypted) << decrypted.error().ToString();
  EXPECT_EQ(decrypted->public_key().KeyId(), key.public_key().KeyId());
  auto der_original = key.ExportPkcs8Der();
  auto der_decrypted = decrypted->ExportPkcs8Der();
  ASSERT_TRUE(der_original && der_decrypted);
  EXPECT_EQ(*der_original, *der_decrypted);
  const std::string message = "release 1.2.3";
  auto signature = decrypted->Sign(AsBytes(message));
  ASSERT_TRUE(signature) << signature.error().ToString();
  EXPECT_TRUE(key.public_key().Verify(AsBytes(message), *signature));
  // The private key never appears in clear in the file.
  EXPECT_EQ(text.find(HexEncode(*der_original)), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, KeystoreRoundTrip,
                         ::testing::Values(crypto::KeyScheme::kEd25519,
                                           crypto::KeyScheme::kEcdsaP256,
                                           crypto::KeyScheme::kRsaPssSha256),
                         [](const auto& param_info) {
                           std::string name(crypto::SchemeName(param_info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(Keystore, FileRecordsFormatAndParameters) {
  const std::string text = EncryptedFile(NewKey());
  json::Value file = ParseJson(text);
  EXPECT_EQ(file.Find("format")->as_string(), "mdu-encrypted-key");
  EXPECT_EQ(file.Find("version")->as_int(), 1);
  const json::Value* kdf = file.Find("kdf");
  EXPECT_EQ(kdf->Find("name")->as_string(), "argon2id");
  EXPECT_EQ(static_cast<uint64_t>(kdf->Find("opslimit")->as_int()), kFast.opslimit);
  EXPECT_EQ(static_cast<uint64_t>(kdf->Find("memlimit")->as_int()), kFast.memlimit);
  EXPECT_EQ(kdf->Find("salt")->as_string().size(), 2 * sealing::kSaltBytes);
  EXPECT_EQ(file.Find("cipher")->Find("name")->as_string(), "xchacha20poly1305-ietf");
  EXPECT_EQ(file.Find("cipher")->Find("nonce")->as_string().size(), 2 * sealing::kNonceBytes);
  EXPECT_EQ(file.Find("scheme")->as_string(), "ed25519");
}

TEST(Keystore, FreshSaltAndNonceEveryTime) {
  crypto::PrivateKey key = NewKey();
  json::Value a = ParseJson(EncryptedFile(key));
  json::Value b = ParseJson(EncryptedFile(key));
  EXPECT_NE(a.Find("kdf")->Find("salt")->as_string(), b.Find("kdf")->Find("salt")->as_string());
  EXPECT_NE(a.Find("cipher")->Find("nonce")->as_string(),
            b.Find("cipher")->Find("nonce")->as_string());
  EXPECT_NE(a.Find("ciphertext")->as_string(), b.Find("ciphertext")->as_string());
}

TEST(Keystore, WrongPassphraseIsACryptoErrorThatDoesNotSayWhy) {
  const std::string text = EncryptedFile(NewKey(), "right");
  ExpectWrongPassphraseError(DecryptKeyFile(text, Pass("wrong"), "keys/a.key.json"),
                             "keys/a.key.json");
  ExpectWrongPassphraseError(DecryptKeyFile(text, Pass(""), "keys/a.key.json"), "keys/a.key.json");
  ExpectWrongPassphraseError(DecryptKeyFile(text, Pass("right "), "keys/a.key.json"),
                             "keys/a.key.json");
}

TEST(Keystore, EmptyPassphraseRefusedForNewKeys) {
  auto text = EncryptKeyFile(NewKey(), Pass(""), kFast);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(Keystore, DetectsTamperedCiphertext) {
  const std::string text = EncryptedFile(NewKey());
  for (size_t index : {size_t{0}, size_t{40}, size_t{127}}) {
    std::string tampered = Edited(text, [&](json::Value& f) {
      f.Set("ciphertext", FlipHexDigit(f.Find("ciphertext")->as_string(), index));
    });
    ExpectWrongPassphraseError(DecryptKeyFile(tampered, Pass("pw-1"), "f"), "f");
  }
  // Dropping bytes (still valid hex) is detected too.
  std::string shortened = Edited(text, [](json::Value& f) {
    std::string c = f.Find("ciphertext")->as_string();
    f.Set("ciphertext", c.substr(0, c.size() - 8));
  });
  ExpectWrongPassphraseError(DecryptKeyFile(shortened, Pass("pw-1"), "f"), "f");
}

TEST(Keystore, DetectsTamperedNonce) {
  const std::string text = EncryptedFile(NewKey());
  std::string tampered = Edited(text, [](json::Value& f) {
    json::Value cipher = *f.Find("cipher");
    cipher.Set("nonce", FlipHexDigit(cipher.Find("nonce")->as_string(), 5));
    f.Set("cipher", std::move(cipher));
  });
  ExpectWrongPassphraseError(DecryptKeyFile(tampered, Pass("pw-1"), "f"), "f");
}

TEST(Keystore, DetectsTamperedSalt) {
  const std::string text = EncryptedFile(NewKey());
  std::string tampered = Edited(text, [](json::Value& f) {
    json::Value kdf = *f.Find("kdf");
    kdf.Set("salt", FlipHexDigit(kdf.Find("salt")->as_string(), 31));
    f.Set("kdf", std::move(kdf));
  });
  ExpectWrongPassphraseError(DecryptKeyFile(tampered, Pass("pw-1"), "f"), "f");
}

TEST(Keystore, DetectsTamperedKdfLimits) {
  const std::string text = EncryptedFile(NewKey());
  std::string tampered = Edited(text, [](json::Value& f) {
    json::Value kdf = *f.Find("kdf");
    kdf.Set("opslimit", json::Value(static_cast<int64_t>(kFast.opslimit + 1)));
    f.Set("kdf", std::move(kdf));
  });
  ExpectWrongPassphraseError(DecryptKeyFile(tampered, Pass("pw-1"), "f"), "f");
}

TEST(Keystore, DetectsSwappedPublicKey) {
  // An attacker replaces the public key (and, consistently, the key ID) with their own, hoping
  // that `export-public` puts their key into root metadata: the AEAD binds "public".
  const std::string text = EncryptedFile(NewKey());
  crypto::PrivateKey attacker = NewKey();
  std::string tampered = Edited(text, [&](json::Value& f) {
    f.Set("public", attacker.public_key().ToTuf());
    f.Set("keyid", attacker.public_key().KeyId());
  });
  auto info = InspectKeyFile(tampered, "f");
  ASSERT_TRUE(info);  // structurally fine: only the passphrase check can tell
  EXPECT_EQ(info->keyid, attacker.public_key().KeyId());
  ExpectWrongPassphraseError(DecryptKeyFile(tampered, Pass("pw-1"), "f"), "f");
}

TEST(Keystore, DetectsSwappedSchemeOrKeyIdAsMalformed) {
  const std::string text = EncryptedFile(NewKey());
  std::string bad_keyid = Edited(
      text, [](json::Value& f) { f.Set("keyid", FlipHexDigit(f.Find("keyid")->as_string(), 0)); });
  ExpectError(DecryptKeyFile(bad_keyid, Pass("pw-1"), "f"), ErrorKind::kBadMetadata, "keyid");
  std::string bad_scheme =
      Edited(text, [](json::Value& f) { f.Set("scheme", "ecdsa-sha2-nistp256"); });
  ExpectError(DecryptKeyFile(bad_scheme, Pass("pw-1"), "f"), ErrorKind::kBadMetadata, "scheme");
}

TEST(Keystore, RejectsUnknownFields) {
  const std::string text = EncryptedFile(NewKey());
  std::string extra = Edited(text, [](json::Value& f) { f.Set("comment", "hello"); });
  ExpectError(DecryptKeyFile(extra, Pass("pw-1"), "f"), ErrorKind::kBadMetadata,
              "unknown field \"comment\"");
  std::string extra_kdf = Edited(text, [](json::Value& f) {
    json::Value kdf = *f.Find("kdf");
    kdf.Set("parallelism", json::Value(4));
    f.Set("kdf", std::move(kdf));
  });
  ExpectError(DecryptKeyFile(extra_kdf, Pass("pw-1"), "f"), ErrorKind::kBadMetadata, "parallelism");
}

TEST(Keystore, TruncatedOrMalformedFilesAreBadMetadata) {
  const std::string text = EncryptedFile(NewKey());
  const std::vector<std::string> broken = {
      "",
      text.substr(0, text.size() / 2),
      text.substr(0, text.size() - 3),
      "not json",
      "[]",
      "{}",
      R"({"format":"something-else","version":1})",
      "{\"keytype\":\"ed25519\"}",
  };
  for (const std::string& input : broken) {
    auto result = DecryptKeyFile(input, Pass("pw-1"), "keys/x.key.json");
    ASSERT_FALSE(result) << input;
    EXPECT_EQ(result.error().kind(), ErrorKind::kBadMetadata) << result.error().ToString();
    EXPECT_NE(result.error().message().find("keys/x.key.json"), std::string::npos)
        << result.error().message();
  }
}

TEST(Keystore, RejectsWrongTypesAndSizes) {
  const std::string text = EncryptedFile(NewKey());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {Edited(text, [](json::Value& f) { f.Set("version", json::Value(2)); }), "version 2"},
      {Edited(text, [](json::Value& f) { f.Set("version", "1"); }), "version"},
      {Edited(text, [](json::Value& f) { f.Set("ciphertext", "zz"); }), "hexadecimal"},
      {Edited(text, [](json::Value& f) { f.Set("ciphertext", "00ff"); }), "too short"},
      {Edited(text, [](json::Value& f) { f.Erase("public"); }), "public"},
      {Edited(text,
              [](json::Value& f) {
                json::Value kdf = *f.Find("kdf");
                kdf.Set("salt", "00");
                f.Set("kdf", std::move(kdf));
              }),
       "salt"},
      {Edited(text,
              [](json::Value& f) {
                json::Value kdf = *f.Find("kdf");
                kdf.Set("name", "scrypt");
                f.Set("kdf", std::move(kdf));
              }),
       "scrypt"},
      // A hostile file must not make us allocate terabytes.
      {Edited(text,
              [](json::Value& f) {
                json::Value kdf = *f.Find("kdf");
                kdf.Set("memlimit", json::Value(int64_t{1} << 42));
                f.Set("kdf", std::move(kdf));
              }),
       "out of range"},
      {Edited(text,
              [](json::Value& f) {
                json::Value cipher = *f.Find("cipher");
                cipher.Set("name", "aes-256-gcm");
                f.Set("cipher", std::move(cipher));
              }),
       "aes-256-gcm"},
  };
  for (const auto& [input, part] : cases) {
    ExpectError(DecryptKeyFile(input, Pass("pw-1"), "f"), ErrorKind::kBadMetadata, part);
  }
}

class KeyFilesTest : public ::testing::Test {
 protected:
  TempDir dir_;
  fs::path keys_ = dir_.path() / "keys";
};

TEST_F(KeyFilesTest, GenerateWritesPrivate0600AndPublicFiles) {
  const mode_t old_umask = ::umask(0);  // the mode must not depend on the umask
  auto key = GenerateKeyFiles(keys_, "root-1", crypto::KeyScheme::kEd25519, Pass("pw"), kFast);
  ::umask(old_umask);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->private_path, keys_ / "root-1.key.json");
  EXPECT_EQ(key->public_path, keys_ / "root-1.pub.json");
  EXPECT_EQ(FileMode(key->private_path), 0600);
  EXPECT_EQ(FileMode(key->public_path), 0644);

  auto public_key = ParsePublicKeyFile(ReadAll(key->public_path), "pub");
  ASSERT_TRUE(public_key) << public_key.error().ToString();
  EXPECT_EQ(public_key->KeyId(), key->keyid);
  auto loaded = LoadPrivateKey(key->private_path, Pass("pw"));
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->public_key().KeyId(), key->keyid);
  // Only the two key files: no temporary file left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(keys_), fs::directory_iterator()), 2);
}

TEST_F(KeyFilesTest, RefusesToOverwriteAnExistingKey) {
  auto first = GenerateKeyFiles(keys_, "targets", crypto::KeyScheme::kEd25519, Pass("pw"), kFast);
  ASSERT_TRUE(first);
  const std::string before = ReadAll(first->private_path);
  auto second = GenerateKeyFiles(keys_, "targets", crypto::KeyScheme::kEd25519, Pass("pw"), kFast);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(second.error().message().find("already exists"), std::string::npos);
  EXPECT_EQ(ReadAll(first->private_path), before);
}

TEST_F(KeyFilesTest, RefusesWhenOnlyThePublicFileExists) {
  ASSERT_TRUE(io::CreateDirectories(keys_));
  WriteAll(keys_ / "snapshot.pub.json", "{}");
  auto key = GenerateKeyFiles(keys_, "snapshot", crypto::KeyScheme::kEd25519, Pass("pw"), kFast);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(fs::exists(keys_ / "snapshot.key.json"));
  EXPECT_EQ(ReadAll(keys_ / "snapshot.pub.json"), "{}");
}

TEST_F(KeyFilesTest, WriteNewFileNeverReplaces) {
  const fs::path path = dir_.path() / "a.json";
  ASSERT_TRUE(WriteNewFile(path, "first", 0600));
  auto again = WriteNewFile(path, "second", 0600);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(ReadAll(path), "first");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator()), 1);
}

TEST_F(KeyFilesTest, RejectsHostileKeyNames) {
  for (std::string_view name :
       {"", "../root", "a/b", ".hidden", "-x", "root 1", "r\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    auto key = GenerateKeyFiles(keys_, name, crypto::KeyScheme::kEd25519, Pass("pw"), kFast);
    ASSERT_FALSE(key) << name;
    EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
  }
  EXPECT_FALSE(fs::exists(keys_));
  EXPECT_TRUE(ValidateKeyName("root-1"));
  EXPECT_TRUE(ValidateKeyName("a.b_c-9"));
}

TEST_F(KeyFilesTest, EmptyPassphraseWritesNothing) {
  auto key = GenerateKeyFiles(keys_, "root-1", crypto::KeyScheme::kEd25519, Pass(""), kFast);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_FALSE(fs::exists(keys_ / "root-1.key.json"));
}

TEST_F(KeyFilesTest, ChangePassphraseKeepsTheKeyAndMode) {
  auto key = GenerateKeyFiles(keys_, "root-2", crypto::KeyScheme::kEd25519, Pass("old"), kFast);
  ASSERT_TRUE(key);
  const std::string before = ReadAll(key->private_path);
  ASSERT_TRUE(ChangeKeyFilePassphrase(key->private_path, Pass("old"), Pass("new"), kFast));
  EXPECT_EQ(FileMode(key->private_path), 0600);
  ExpectWrongPassphraseError(LoadPrivateKey(key->private_path, Pass("old")),
                             key->private_path.string());
  auto loaded = LoadPrivateKey(key->private_path, Pass("new"));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->public_key().KeyId(), key->keyid);
  json::Value a = ParseJson(before);
  json::Value b = ParseJson(ReadAll(key->private_path));
  EXPECT_NE(a.Find("kdf")->Find("salt")->as_string(), b.Find("kdf")->Find("salt")->as_string());
}

TEST_F(KeyFilesTest, ChangePassphraseWithWrongOldLeavesFileUntouched) {
  auto key = GenerateKeyFiles(keys_, "root-3", crypto::KeyScheme::kEd25519, Pass("old"), kFast);
  ASSERT_TRUE(key);
  const std::string before = ReadAll(key->private_path);
  auto status = ChangeKeyFilePassphrase(key->private_path, Pass("nope"), Pass("new"), kFast);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kCrypto);
  EXPECT_EQ(ReadAll(key->private_path), before);
}

TEST_F(KeyFilesTest, MissingAndOversizedFiles) {
  auto missing = LoadPrivateKey(keys_ / "nope.key.json", Pass("pw"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  const fs::path big = dir_.path() / "big.key.json";
  WriteAll(big, std::string(kMaxKeyFileBytes + 1, ' '));
  auto oversized = LoadPrivateKey(big, Pass("pw"));
  ASSERT_FALSE(oversized);
  EXPECT_EQ(oversized.error().kind(), ErrorKind::kBadMetadata);
}

TEST(Keystore, KdfProfiles) {
  EXPECT_EQ(*KdfLimitsFromProfile("interactive"), sealing::InteractiveLimits());
  EXPECT_EQ(*KdfLimitsFromProfile("moderate"), sealing::ModerateLimits());
  EXPECT_EQ(*KdfLimitsFromProfile("sensitive"), sealing::SensitiveLimits());
  auto bad = KdfLimitsFromProfile("fast");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::signer
