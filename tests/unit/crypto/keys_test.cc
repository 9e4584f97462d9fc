#include "core/crypto/keys.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/common/hex.h"
#include "core/crypto/ed25519_backends.h"
#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::crypto {
namespace {

constexpr KeyScheme kAllSchemes[] = {KeyScheme::kEd25519, KeyScheme::kEcdsaP256,
                                     KeyScheme::kRsaPssSha256};

std::vector<uint8_t> Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes) << hex;
  return bytes ? *bytes : std::vector<uint8_t>{};
}

std::vector<uint8_t> PatternBytes(size_t size, uint8_t salt) {
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 167 + salt + (i >> 11));
  return data;
}

json::Value KeyObject(std::string_view keytype, std::string_view scheme, std::string_view pub) {
  return json::Value::MakeObject({
      {"keytype", json::Value(keytype)},
      {"keyval", json::Value::MakeObject({{"public", json::Value(pub)}})},
      {"scheme", json::Value(scheme)},
  });
}

// Keys our API refuses to create, made with OpenSSL directly.
std::string PemOf(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio, pkey), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);  // NOLINT(runtime/int)
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}
std::string P384Pem() { return PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")); }
std::string Rsa1024Pem() {
  return PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
}
std::string Ed25519Pem() { return PemOf(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

// One generated key per scheme for the tests that do not need a fresh one (RSA-3072 generation
// takes about a second, much more under the sanitizers).
const PrivateKey& SharedKey(KeyScheme scheme) {
  static PrivateKey* keys[3] = {};
  PrivateKey*& slot = keys[static_cast<size_t>(scheme)];
  if (slot == nullptr) {
    auto key = PrivateKey::Generate(scheme);
    EXPECT_TRUE(key) << key.error().ToString();
    slot = new PrivateKey(std::move(*key));  // NOLINT: lives for the whole test run
  }
  return *slot;
}

void ExpectError(const Result<PublicKey>& key, ErrorKind kind) {
  ASSERT_FALSE(key) << "unexpectedly parsed";
  EXPECT_EQ(key.error().kind(), kind) << key.error().ToString();
}

// Flipping any single bit of the message or the signature must break verification.
void ExpectBitFlipsRejected(const PublicKey& key, const std::vector<uint8_t>& message,
                            const std::vector<uint8_t>& signature) {
  ASSERT_TRUE(key.Verify(message, signature));
  for (size_t bit :
       {size_t{0}, size_t{1}, size_t{7}, message.size() * 4 + 3, message.size() * 8 - 1}) {
    std::vector<uint8_t> tampered = message;
    tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(key.Verify(tampered, signature)) << "message bit " << bit;
  }
  for (size_t bit : {size_t{0}, size_t{9}, size_t{100}, signature.size() * 4 + 5,
                     signature.size() * 8 - 8, signature.size() * 8 - 1}) {
    std::vector<uint8_t> tampered = signature;
    tampered[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(key.Verify(message, tampered)) << "signature bit " << bit;
  }
}

// --- python-tuf reference keys ----------------------------------------------------------------

class ReferenceKeysTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::ifstream in(std::string(MDU_TESTDATA_DIR) + "/keys/keyids.json", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = json::Parse(text.str());
    ASSERT_TRUE(parsed) << parsed.error().ToString();
    doc_ = new json::Value(std::move(*parsed));
  }
  static void TearDownTestSuite() {
    delete doc_;
    doc_ = nullptr;
  }
  static const json::Array& Keys() { return doc_->Find("keys")->as_array(); }

  static json::Value* doc_;
};
json::Value* ReferenceKeysTest::doc_ = nullptr;

TEST_F(ReferenceKeysTest, KeyIdsPreimagesAndSignaturesMatchPythonTuf) {
  ASSERT_EQ(Keys().size(), 3u);
  for (const json::Value& entry : Keys()) {
    const std::string name = entry.Find("name")->as_string();
    SCOPED_TRACE(name);
    const json::Value& object = *entry.Find("key");
    EXPECT_EQ(HexEncode(json::Canonical(object)),
              entry.Find("keyid_preimage_canonical_hex")->as_string());

    auto key = PublicKey::FromTuf(object);
    ASSERT_TRUE(key) << key.error().ToString();
    EXPECT_EQ(key->KeyId(), entry.Find("keyid")->as_string());
    EXPECT_EQ(key->ToTuf(), object);
    EXPECT_EQ(SchemeName(key->scheme()), name);

    const std::vector<uint8_t> message = Unhex(entry.Find("message_hex")->as_string());
    const std::vector<uint8_t> signature = Unhex(entry.Find("signature_hex")->as_string());
    EXPECT_TRUE(key->Verify(message, signature));
    ExpectBitFlipsRejected(*key, message, signature);
    EXPECT_FALSE(key->Verify(message, {}));
    EXPECT_FALSE(key->Verify(message, std::span(signature).first(signature.size() - 1)));
  }
}

TEST_F(ReferenceKeysTest, SignaturesDoNotVerifyUnderAnotherReferenceKey) {
  std::vector<PublicKey> keys;
  for (const json::Value& entry : Keys()) keys.push_back(*PublicKey::FromTuf(*entry.Find("key")));
  for (size_t i = 0; i < Keys().size(); ++i) {
    const std::vector<uint8_t> message = Unhex(Keys()[i].Find("message_hex")->as_string());
    const std::vector<uint8_t> signature = Unhex(Keys()[i].Find("signature_hex")->as_string());
    for (size_t j = 0; j < keys.size(); ++j) {
      EXPECT_EQ(keys[j].Verify(message, signature), i == j) << i << " under " << j;
    }
  }
}

TEST_F(ReferenceKeysTest, AcceptsLegacyEcdsaKeytype) {
  json::Value object = *Keys()[1].Find("key");
  ASSERT_EQ(object.Find("keytype")->as_string(), "ecdsa");
  object.Set("keytype", json::Value("ecdsa-sha2-nistp256"));
  auto key = PublicKey::FromTuf(object);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->scheme(), KeyScheme::kEcdsaP256);
  // The key ID covers the object as written, legacy keytype included.
  EXPECT_EQ(key->KeyId(), Sha256Hex(json::Canonical(object)));
  EXPECT_NE(key->KeyId(), Keys()[1].Find("keyid")->as_string());
  EXPECT_TRUE(key->Verify(Unhex(Keys()[1].Find("message_hex")->as_string()),
                          Unhex(Keys()[1].Find("signature_hex")->as_string())));
}

TEST_F(ReferenceKeysTest, UnknownFieldsAreKeptAndCountInTheKeyId) {
  json::Value object = *Keys()[0].Find("key");
  object.Set("x-extra", json::Value("kept"));
  auto key = PublicKey::FromTuf(object);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(key->ToTuf(), object);
  EXPECT_EQ(key->KeyId(), Sha256Hex(json::Canonical(object)));
  EXPECT_NE(key->KeyId(), Keys()[0].Find("keyid")->as_string());
}

// --- Parsing errors ---------------------------------------------------------------------------

TEST(PublicKeyParseTest, UnsupportedKeyKeepsItsObjectAndNeverVerifies) {
  auto object = json::Parse(
      R"({"keytype":"sphincs","keyval":{"public":"00ff"},"scheme":"sphincs-shake-256f"})");
  ASSERT_TRUE(object);
  EXPECT_EQ(PublicKey::FromTuf(*object).error().kind(), ErrorKind::kInvalidArgument);
  PublicKey key = PublicKey::Unsupported(*object);
  EXPECT_FALSE(key.is_supported());
  EXPECT_EQ(key.ToTuf(), *object);
  EXPECT_EQ(key.KeyId(), Sha256Hex(json::Canonical(*object)));
  std::vector<uint8_t> message = {1, 2, 3};
  std::vector<uint8_t> signature(64, 0);
  EXPECT_FALSE(key.Verify(message, signature));
  EXPECT_FALSE(key.Verify(message, {}));
  EXPECT_FALSE(internal::VerifyEd25519With(internal::Ed25519Backend::kLibsodium, key, message,
                                           signature));
}

TEST(PublicKeyParseTest, KeytypeSchemeMismatchIsInvalidArgument) {
  const PrivateKey* ecdsa = &SharedKey(KeyScheme::kEcdsaP256);
  const std::string pem = ecdsa->public_key().ToTuf().Find("keyval")->Find("public")->as_string();
  const std::string ed_hex(64, 'a');
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ecdsa-sha2-nistp256", pem)),
              ErrorKind::kInvalidArgument);
  ExpectError(PublicKey::FromTuf(KeyObject("rsa", "ecdsa-sha2-nistp256", pem)),
              ErrorKind::kInvalidArgument);
  ExpectError(PublicKey::FromTuf(KeyObject("ecdsa", "ed25519", ed_hex)),
              ErrorKind::kInvalidArgument);
  ExpectError(PublicKey::FromTuf(KeyObject("rsa", "rsassa-pss-sha512", pem)),
              ErrorKind::kInvalidArgument);
  ExpectError(PublicKey::FromTuf(KeyObject("ed448", "ed448", ed_hex)), ErrorKind::kInvalidArgument);
}

TEST(PublicKeyParseTest, MissingOrMistypedFieldsAreBadMetadata) {
  const std::string hex(64, '1');
  ExpectError(PublicKey::FromTuf(json::Value("ed25519")), ErrorKind::kBadMetadata);
  json::Value no_keyval = KeyObject("ed25519", "ed25519", hex);
  no_keyval.Erase("keyval");
  ExpectError(PublicKey::FromTuf(no_keyval), ErrorKind::kBadMetadata);
  json::Value no_scheme = KeyObject("ed25519", "ed25519", hex);
  no_scheme.Erase("scheme");
  ExpectError(PublicKey::FromTuf(no_scheme), ErrorKind::kBadMetadata);
  json::Value int_keytype = KeyObject("ed25519", "ed25519", hex);
  int_keytype.Set("keytype", json::Value(25519));
  ExpectError(PublicKey::FromTuf(int_keytype), ErrorKind::kBadMetadata);
  json::Value public_not_string = KeyObject("ed25519", "ed25519", hex);
  public_not_string.Set("keyval", json::Value::MakeObject({{"public", json::Value(1)}}));
  ExpectError(PublicKey::FromTuf(public_not_string), ErrorKind::kBadMetadata);
  json::Value keyval_string = KeyObject("ed25519", "ed25519", hex);
  keyval_string.Set("keyval", json::Value(hex));
  ExpectError(PublicKey::FromTuf(keyval_string), ErrorKind::kBadMetadata);
}

TEST(PublicKeyParseTest, Ed25519PublicMustBe64HexDigitsOfAValidPoint) {
  const PrivateKey* key = &SharedKey(KeyScheme::kEd25519);
  const std::string hex = key->public_key().ToTuf().Find("keyval")->Find("public")->as_string();
  ASSERT_EQ(hex.size(), 64u);
  ASSERT_TRUE(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", hex)));
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", hex.substr(0, 62))),
              ErrorKind::kCrypto);
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", hex + "00")), ErrorKind::kCrypto);
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", hex.substr(0, 63))),
              ErrorKind::kCrypto);
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", "")), ErrorKind::kCrypto);
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", "zz" + hex.substr(2))),
              ErrorKind::kCrypto);
  // The identity point (small order): every signature with R = identity, S = 0 would verify
  // under OpenSSL, so it must never become a key.
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", "01" + std::string(62, '0'))),
              ErrorKind::kCrypto);
  ExpectError(PublicKey::FromTuf(KeyObject("ed25519", "ed25519", Ed25519Pem())),
              ErrorKind::kCrypto);
}

TEST(PublicKeyParseTest, BadPemIsCryptoError) {
  for (const char* scheme : {"ecdsa-sha2-nistp256", "rsassa-pss-sha256"}) {
    SCOPED_TRACE(scheme);
    const std::string keytype = std::string_view(scheme) == "rsassa-pss-sha256" ? "rsa" : "ecdsa";
    ExpectError(PublicKey::FromTuf(KeyObject(keytype, scheme, "garbage")), ErrorKind::kCrypto);
    ExpectError(PublicKey::FromTuf(KeyObject(keytype, scheme, "")), ErrorKind::kCrypto);
    ExpectError(
        PublicKey::FromTuf(KeyObject(
            keytype, scheme, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")),
        ErrorKind::kCrypto);
    ExpectError(PublicKey::FromTuf(KeyObject(keytype, scheme, Ed25519Pem())), ErrorKind::kCrypto);
  }
}

TEST(PublicKeyParseTest, EcdsaRejectsOtherCurvesAndKeyTypes) {
  ExpectError(PublicKey::FromTuf(KeyObject("ecdsa", "ecdsa-sha2-nistp256", P384Pem())),
              ErrorKind::kCrypto);
  const PrivateKey* rsa = &SharedKey(KeyScheme::kRsaPssSha256);
  const std::string rsa_pem = rsa->public_key().ToTuf().Find("keyval")->Find("public")->as_string();
  ExpectError(PublicKey::FromTuf(KeyObject("ecdsa", "ecdsa-sha2-nistp256", rsa_pem)),
              ErrorKind::kCrypto);
}

TEST(PublicKeyParseTest, RsaRejectsShortKeysAndOtherKeyTypes) {
  ExpectError(PublicKey::FromTuf(KeyObject("rsa", "rsassa-pss-sha256", Rsa1024Pem())),
              ErrorKind::kCrypto);
  const PrivateKey* ecdsa = &SharedKey(KeyScheme::kEcdsaP256);
  const std::string pem = ecdsa->public_key().ToTuf().Find("keyval")->Find("public")->as_string();
  ExpectError(PublicKey::FromTuf(KeyObject("rsa", "rsassa-pss-sha256", pem)), ErrorKind::kCrypto);
}

TEST(SchemeTest, NamesRoundTrip) {
  for (KeyScheme scheme : kAllSchemes) {
    auto parsed = SchemeFromName(SchemeName(scheme));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, scheme);
  }
  EXPECT_EQ(SchemeName(KeyScheme::kEcdsaP256), "ecdsa-sha2-nistp256");
  EXPECT_EQ(SchemeName(KeyScheme::kRsaPssSha256), "rsassa-pss-sha256");
  auto bad = SchemeFromName("rsa-pkcs1v15-sha256");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument);
}

// --- Generated keys: sign, verify, serialize ----------------------------------------------------

class SchemeRoundTripTest : public testing::TestWithParam<KeyScheme> {};

TEST_P(SchemeRoundTripTest, SignVerifySmallAndLargeMessages) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key) << key.error().ToString();
  const PublicKey& public_key = key->public_key();
  EXPECT_EQ(public_key.scheme(), GetParam());
  // Empty, small, and > 1 MiB (the OpenSSL path for ed25519).
  for (size_t size : {size_t{0}, size_t{1}, size_t{300}, (size_t{1} << 20) + 17}) {
    SCOPED_TRACE(size);
    const std::vector<uint8_t> message = PatternBytes(size, 3);
    auto signature = key->Sign(message);
    ASSERT_TRUE(signature) << signature.error().ToString();
    EXPECT_TRUE(public_key.Verify(message, *signature));
    if (size > 0) ExpectBitFlipsRejected(public_key, message, *signature);
    EXPECT_FALSE(public_key.Verify(message, {}));
    EXPECT_FALSE(public_key.Verify(message, std::span(*signature).first(signature->size() / 2)));
    std::vector<uint8_t> extended = *signature;
    extended.push_back(0);
    EXPECT_FALSE(public_key.Verify(message, extended));
  }
}

TEST_P(SchemeRoundTripTest, WrongKeyRejects) {
  const PrivateKey* a = &SharedKey(GetParam());
  auto b = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(b);
  EXPECT_NE(a->public_key().KeyId(), b->public_key().KeyId());
  const std::vector<uint8_t> message = PatternBytes(100, 9);
  auto signature = a->Sign(message);
  ASSERT_TRUE(signature);
  EXPECT_TRUE(a->public_key().Verify(message, *signature));
  EXPECT_FALSE(b->public_key().Verify(message, *signature));
}

TEST_P(SchemeRoundTripTest, PublicKeyIsTufFormatAndReparses) {
  const PrivateKey* key = &SharedKey(GetParam());
  const json::Value& object = key->public_key().ToTuf();
  ASSERT_TRUE(object.is_object());
  EXPECT_EQ(object.as_object().size(), 3u);
  EXPECT_EQ(object.Find("scheme")->as_string(), SchemeName(GetParam()));
  const json::Value* keyval = object.Find("keyval");
  ASSERT_TRUE(keyval != nullptr && keyval->is_object());
  EXPECT_EQ(keyval->as_object().size(), 1u);
  const std::string& pub = keyval->Find("public")->as_string();
  if (GetParam() == KeyScheme::kEd25519) {
    EXPECT_EQ(object.Find("keytype")->as_string(), "ed25519");
    EXPECT_EQ(pub.size(), 64u);
    EXPECT_EQ(pub.find_first_not_of("0123456789abcdef"), std::string::npos);
  } else {
    EXPECT_EQ(object.Find("keytype")->as_string(),
              GetParam() == KeyScheme::kEcdsaP256 ? "ecdsa" : "rsa");
    // As python-tuf writes it: header, base64 in 64-character lines, footer, final newline.
    const std::string header = "-----BEGIN PUBLIC KEY-----\n";
    const std::string footer = "-----END PUBLIC KEY-----\n";
    ASSERT_EQ(pub.substr(0, header.size()), header);
    ASSERT_GE(pub.size(), header.size() + footer.size());
    EXPECT_EQ(pub.substr(pub.size() - footer.size()), footer);
    std::istringstream lines(pub.substr(header.size(), pub.size() - header.size() - footer.size()));
    std::vector<std::string> body;
    for (std::string line; std::getline(lines, line);) body.push_back(line);
    ASSERT_FALSE(body.empty());
    for (size_t i = 0; i + 1 < body.size(); ++i) EXPECT_EQ(body[i].size(), 64u);
    EXPECT_LE(body.back().size(), 64u);
  }
  auto reparsed = PublicKey::FromTuf(object);
  ASSERT_TRUE(reparsed);
  EXPECT_EQ(reparsed->KeyId(), key->public_key().KeyId());
  EXPECT_EQ(reparsed->KeyId(), Sha256Hex(json::Canonical(object)));
  const std::vector<uint8_t> message = PatternBytes(50, 1);
  EXPECT_TRUE(reparsed->Verify(message, *key->Sign(message)));
}

TEST_P(SchemeRoundTripTest, Pkcs8RoundTrip) {
  const PrivateKey* key = &SharedKey(GetParam());
  auto der = key->ExportPkcs8Der();
  ASSERT_TRUE(der) << der.error().ToString();
  auto loaded = PrivateKey::FromPkcs8Der(GetParam(), *der);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->public_key().KeyId(), key->public_key().KeyId());
  auto der_again = loaded->ExportPkcs8Der();
  ASSERT_TRUE(der_again);
  EXPECT_EQ(*der_again, *der);
  WipeSecret(*der_again);
  EXPECT_EQ(*der_again, std::vector<uint8_t>(der->size(), 0));
  const std::vector<uint8_t> message = PatternBytes(64, 5);
  EXPECT_TRUE(key->public_key().Verify(message, *loaded->Sign(message)));

  // Another scheme's key, trailing bytes, truncation and garbage are all refused.
  for (KeyScheme other : kAllSchemes) {
    if (other == GetParam()) continue;
    auto wrong = PrivateKey::FromPkcs8Der(other, *der);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().kind(), ErrorKind::kCrypto);
  }
  std::vector<uint8_t> trailing = *der;
  trailing.push_back(0);
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(GetParam(), trailing));
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(GetParam(), std::span(*der).first(der->size() - 1)));
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(GetParam(), {}));
  EXPECT_FALSE(PrivateKey::FromPkcs8Der(GetParam(), AsBytes("not a key")));
}

TEST_P(SchemeRoundTripTest, MovedKeyStillSigns) {
  auto key = PrivateKey::Generate(GetParam());
  ASSERT_TRUE(key);
  PrivateKey moved = std::move(*key);
  const std::vector<uint8_t> message = PatternBytes(10, 2);
  auto signature = moved.Sign(message);
  ASSERT_TRUE(signature);
  const Signer& signer = moved;
  EXPECT_TRUE(signer.public_key().Verify(message, *signature));
}

TEST_P(SchemeRoundTripTest, ConcurrentVerifyOnOneKey) {
  const PrivateKey* key = &SharedKey(GetParam());
  const PublicKey public_key = key->public_key();  // copies share the parsed key
  const std::vector<uint8_t> message = PatternBytes(200, 4);
  const std::vector<uint8_t> signature = *key->Sign(message);
  std::vector<uint8_t> bad = signature;
  bad[bad.size() / 2] ^= 0x10;
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!public_key.Verify(message, signature)) ++failures[t];
        if (public_key.Verify(message, bad)) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

INSTANTIATE_TEST_SUITE_P(AllSchemes, SchemeRoundTripTest, testing::ValuesIn(kAllSchemes),
                         [](const testing::TestParamInfo<KeyScheme>& param_info) {
                           switch (param_info.param) {
                             case KeyScheme::kEd25519:
                               return std::string("Ed25519");
                             case KeyScheme::kEcdsaP256:
                               return std::string("EcdsaP256");
                             case KeyScheme::kRsaPssSha256:
                               return std::string("RsaPss");
                           }
                           return std::string("Unknown");
                         });

// --- Scheme specifics -------------------------------------------------------------------------

TEST(RsaPssTest, VerifiesAnySaltLengthAndSignsWithDigestLength) {
  const PrivateKey* key = &SharedKey(KeyScheme::kRsaPssSha256);
  auto der = key->ExportPkcs8Der();
  ASSERT_TRUE(der);
  const unsigned char* p = der->data();
  EVP_PKEY* pkey = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der->size()));  // NOLINT
  ASSERT_NE(pkey, nullptr);
  const std::vector<uint8_t> message = PatternBytes(1000, 7);
  // securesystemslib signs with the maximum salt length; go-tuf and tuf-js with 32; 0 is legal.
  for (int salt : {RSA_PSS_SALTLEN_MAX, 32, 0, 20}) {
    SCOPED_TRACE(salt);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, pkey), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
    size_t size = 0;
    ASSERT_EQ(EVP_DigestSign(ctx, nullptr, &size, message.data(), message.size()), 1);
    std::vector<uint8_t> signature(size);
    ASSERT_EQ(EVP_DigestSign(ctx, signature.data(), &size, message.data(), message.size()), 1);
    EVP_MD_CTX_free(ctx);
    EXPECT_TRUE(key->public_key().Verify(message, signature));
  }

  // Our own signatures use salt length 32: verifiable with the salt length pinned to 32.
  auto signature = key->Sign(message);
  ASSERT_TRUE(signature);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, pkey), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx, signature->data(), signature->size(), message.data(), message.size()),
      1);
  EVP_MD_CTX_free(ctx);
  EXPECT_EQ(EVP_PKEY_get_bits(pkey), 3072);
  EVP_PKEY_free(pkey);
}

TEST(EcdsaTest, RawRsSignatureIsRejected) {
  const PrivateKey* key = &SharedKey(KeyScheme::kEcdsaP256);
  const std::vector<uint8_t> message = PatternBytes(32, 8);
  auto signature = key->Sign(message);
  ASSERT_TRUE(signature);
  EXPECT_EQ((*signature)[0], 0x30);  // DER SEQUENCE
  EXPECT_FALSE(key->public_key().Verify(message, std::vector<uint8_t>(64, 0x11)));
  EXPECT_FALSE(key->public_key().Verify(message, std::vector<uint8_t>(72, 0x30)));
}

TEST(Ed25519Test, FromSeedRejectsWrongLength) {
  for (size_t size : {size_t{0}, size_t{31}, size_t{33}, size_t{64}}) {
    auto key = PrivateKey::FromEd25519Seed(std::vector<uint8_t>(size, 1));
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(Ed25519Test, BackendsAgreeAroundTheCrossover) {
  const PrivateKey* key = &SharedKey(KeyScheme::kEd25519);
  const PublicKey& public_key = key->public_key();
  const size_t crossover = internal::kEd25519OpensslMinMessageSize;
  for (size_t size :
       {size_t{0}, size_t{64}, crossover - 1, crossover, crossover + 1, size_t{3} << 20}) {
    SCOPED_TRACE(size);
    const std::vector<uint8_t> message = PatternBytes(size, 6);
    auto signature = key->Sign(message);
    ASSERT_TRUE(signature);
    for (auto backend :
         {internal::Ed25519Backend::kLibsodium, internal::Ed25519Backend::kOpenssl}) {
      EXPECT_TRUE(internal::VerifyEd25519With(backend, public_key, message, *signature));
      std::vector<uint8_t> bad = *signature;
      bad[5] ^= 1;
      EXPECT_FALSE(internal::VerifyEd25519With(backend, public_key, message, bad));
      bad = *signature;
      bad[63] ^= 0x80;  // S no longer canonical
      EXPECT_FALSE(internal::VerifyEd25519With(backend, public_key, message, bad));
      EXPECT_FALSE(internal::VerifyEd25519With(backend, public_key, message, {}));
    }
  }
  // Not an ed25519 key: both backends say no rather than misbehave.
  const PrivateKey* ecdsa = &SharedKey(KeyScheme::kEcdsaP256);
  EXPECT_FALSE(internal::VerifyEd25519With(internal::Ed25519Backend::kOpenssl, ecdsa->public_key(),
                                           {}, *ecdsa->Sign({})));
}

TEST(Ed25519Test, SignaturesAreDeterministicAndMatchLibsodium) {
  const std::vector<uint8_t> seed = PatternBytes(32, 42);
  auto key = PrivateKey::FromEd25519Seed(seed);
  ASSERT_TRUE(key);
  const std::vector<uint8_t> message = PatternBytes((size_t{1} << 20) + 3, 11);
  auto a = key->Sign(message);
  auto b = key->Sign(message);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, internal::SodiumEd25519SignWithSeed(seed, message));
}

}  // namespace
}  // namespace mdu::crypto
