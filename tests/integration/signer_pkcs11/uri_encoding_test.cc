// The pure parts of signer/pkcs11: RFC 7512 URI parsing and the DER/PEM encodings.
#include <gtest/gtest.h>

#include "core/crypto/keys.h"
#include "signer/pkcs11/key_encoding.h"
#include "signer/pkcs11/uri.h"

namespace mdu::signer::pkcs11 {
namespace {

TEST(Pkcs11UriTest, ParsesPathAndQueryAttributes) {
  auto uri = ParsePkcs11Uri(
      "pkcs11:token=Release%20HSM;object=root-1;id=%01%A4;serial=42?module-path=/opt/x.so&"
      "pin-source=file:/run/pin");
  ASSERT_TRUE(uri) << uri.error().ToString();
  EXPECT_EQ(uri->token, "Release HSM");
  EXPECT_EQ(uri->object, "root-1");
  ASSERT_TRUE(uri->id);
  EXPECT_EQ(*uri->id, (std::vector<uint8_t>{0x01, 0xa4}));
  EXPECT_EQ(uri->serial, "42");
  EXPECT_EQ(uri->module_path, "/opt/x.so");
  EXPECT_EQ(uri->pin_file, "/run/pin");
  EXPECT_TRUE(IsPkcs11Uri("PKCS11:object=x"));
  EXPECT_FALSE(IsPkcs11Uri("keys/pkcs11.key.json"));
}

TEST(Pkcs11UriTest, RefusesPinValueUnknownAttributesAndUriWithoutKey) {
  auto pin = ParsePkcs11Uri("pkcs11:object=a?pin-value=1234");
  ASSERT_FALSE(pin);
  EXPECT_NE(pin.error().message().find("pin-value is refused"), std::string::npos);
  auto path_pin = ParsePkcs11Uri("pkcs11:object=a;pin-value=1234");
  ASSERT_FALSE(path_pin);
  EXPECT_NE(path_pin.error().message().find("pin-value is refused"), std::string::npos);
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:objekt=a"));
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:token=t"));  // names no key
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a;object=b"));
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a%4"));
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a%zz"));
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a?pin-source=|/bin/echo"));
  EXPECT_FALSE(ParsePkcs11Uri("pkcs11:object=a;slot-id=x"));
  EXPECT_FALSE(ParsePkcs11Uri("keys/a.key.json"));
}

TEST(KeyEncodingTest, DerIntegersAreMinimalAndPositive) {
  const uint8_t high[] = {0x00, 0x00, 0x80};
  EXPECT_EQ(DerInteger(high), (std::vector<uint8_t>{0x02, 0x02, 0x00, 0x80}));
  const uint8_t low[] = {0x00, 0x7f};
  EXPECT_EQ(DerInteger(low), (std::vector<uint8_t>{0x02, 0x01, 0x7f}));
  const uint8_t zero[] = {0x00, 0x00};
  EXPECT_EQ(DerInteger(zero), (std::vector<uint8_t>{0x02, 0x01, 0x00}));
}

TEST(KeyEncodingTest, EcdsaRawSignatureBecomesDer) {
  std::vector<uint8_t> raw(64, 0x11);
  raw[0] = 0x90;   // r needs a leading zero
  raw[32] = 0x00;  // s loses its leading zero
  auto der = EcdsaRawToDer(raw);
  ASSERT_TRUE(der);
  ASSERT_EQ(der->size(), 2u + 35u + 33u);
  EXPECT_EQ((*der)[0], 0x30);
  EXPECT_EQ((*der)[2], 0x02);
  EXPECT_EQ((*der)[3], 33);
  EXPECT_EQ((*der)[4], 0x00);
  EXPECT_EQ((*der)[37], 0x02);
  EXPECT_EQ((*der)[38], 31);
  EXPECT_FALSE(EcdsaRawToDer(std::vector<uint8_t>(63, 1)));
  EXPECT_FALSE(EcdsaRawToDer({}));
}

TEST(KeyEncodingTest, EcPointAcceptsOctetStringOrBarePoint) {
  std::vector<uint8_t> point(32, 7);
  std::vector<uint8_t> wrapped(2 + 32, 7);
  wrapped[0] = 0x04;  // OCTET STRING, 32 bytes
  wrapped[1] = 32;
  EXPECT_EQ(*EcPointBytes(wrapped, 32), point);
  EXPECT_EQ(*EcPointBytes(point, 32), point);
  EXPECT_FALSE(EcPointBytes(wrapped, 65));
}

TEST(KeyEncodingTest, PemWrapsAt64Columns) {
  std::vector<uint8_t> der(100, 0xff);
  const std::string pem = Pem("PUBLIC KEY", der);
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  EXPECT_NE(pem.find(std::string(64, '/') + "\n"), std::string::npos);
  EXPECT_NE(pem.find("==\n-----END PUBLIC KEY-----\n"), std::string::npos);  // 100 % 3 == 1
}

TEST(KeyEncodingTest, Ed25519KeyMatchesCoreKeyId) {
  auto key = crypto::PrivateKey::FromEd25519Seed(std::vector<uint8_t>(32, 3));
  ASSERT_TRUE(key);
  const std::string hex = key->public_key().ToTuf().Find("keyval")->Find("public")->as_string();
  std::vector<uint8_t> raw;
  for (size_t i = 0; i < hex.size(); i += 2) {
    raw.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  auto tuf = Ed25519TufKey(raw);
  ASSERT_TRUE(tuf);
  EXPECT_EQ(tuf->KeyId(), key->public_key().KeyId());
}

}  // namespace
}  // namespace mdu::signer::pkcs11
