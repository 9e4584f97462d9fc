// Keys on a SoftHSM2 token through signer/pkcs11: generation, signing verified by core's
// verifier, key IDs equal to core's, clear errors, and the private key never leaving the token.
#include "signer/pkcs11/token_key.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/crypto/keys.h"
#include "signer/keystore/keystore.h"
#include "signer/pkcs11/key_encoding.h"
#include "signer/pkcs11/session.h"
#include "signer/repo/key_files.h"
#include "tests/integration/signer_pkcs11/softhsm_fixture.h"

namespace mdu::signer::pkcs11 {
namespace {

namespace fs = std::filesystem;
using testing::SoftHsmTest;

std::span<const uint8_t> Bytes(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

class TokenKeyTest : public SoftHsmTest, public ::testing::WithParamInterface<crypto::KeyScheme> {};

TEST_P(TokenKeyTest, GeneratedKeySignsAndCoreVerifies) {
  const crypto::KeyScheme scheme = GetParam();
  auto generated = GenerateTokenKey(Uri("release-key"), scheme, Pin(), 2048);
  ASSERT_TRUE(generated) << generated.error().ToString();
  EXPECT_NE(generated->uri.find(";id=%"), std::string::npos) << generated->uri;

  // The public key file keygen would write parses back to the same key ID.
  auto reparsed = ParsePublicKeyFile(PublicKeyFileText(generated->public_key), "pub");
  ASSERT_TRUE(reparsed) << reparsed.error().ToString();
  EXPECT_EQ(reparsed->KeyId(), generated->public_key.KeyId());
  EXPECT_EQ(reparsed->scheme(), scheme);

  auto from_token = ReadTokenPublicKey(Uri("release-key"));
  ASSERT_TRUE(from_token) << from_token.error().ToString();
  EXPECT_EQ(from_token->KeyId(), generated->public_key.KeyId());

  for (const std::string& uri : {Uri("release-key"), generated->uri}) {
    auto signer = TokenSigner::Open(uri, Pin());
    ASSERT_TRUE(signer) << signer.error().ToString();
    EXPECT_EQ((*signer)->public_key().KeyId(), generated->public_key.KeyId());
    const std::string message = "{\"signed\":{\"_type\":\"targets\",\"version\":7}}";
    auto signature = (*signer)->Sign(Bytes(message));
    ASSERT_TRUE(signature) << signature.error().ToString();
    EXPECT_TRUE(reparsed->Verify(Bytes(message), *signature));
    EXPECT_FALSE(reparsed->Verify(Bytes(message + " "), *signature));
  }
}

TEST_P(TokenKeyTest, ImportedSoftwareKeyHasCoresKeyId) {
  const crypto::KeyScheme scheme = GetParam();
  auto software = crypto::PrivateKey::Generate(scheme);
  ASSERT_TRUE(software);
  auto der = software->ExportPkcs8Der();
  ASSERT_TRUE(der);
  const fs::path pem = dir_ / "import.pem";
  {
    std::ofstream out(pem);
    out << Pem("PRIVATE KEY", *der);
  }
  crypto::WipeSecret(*der);
  ASSERT_TRUE(Import(pem, "imported", "a1b2"));
  fs::remove(pem);
  auto signer = TokenSigner::Open(Uri("imported"), Pin());
  ASSERT_TRUE(signer) << signer.error().ToString();
  EXPECT_EQ((*signer)->public_key().KeyId(), software->public_key().KeyId());
  EXPECT_EQ((*signer)->public_key().ToTuf(), software->public_key().ToTuf());
  auto signature = (*signer)->Sign(Bytes("payload"));
  ASSERT_TRUE(signature);
  EXPECT_TRUE(software->public_key().Verify(Bytes("payload"), *signature));
}

TEST_P(TokenKeyTest, AttackPrivateKeyCannotBeExtracted) {
  const crypto::KeyScheme scheme = GetParam();
  ASSERT_TRUE(GenerateTokenKey(Uri("secret"), scheme, Pin(), 2048));
  auto uri = ParsePkcs11Uri(Uri("secret"));
  ASSERT_TRUE(uri);
  auto session = Session::Open(*uri, false);
  ASSERT_TRUE(session);
  ASSERT_TRUE((*session)->Login(Pin()));
  auto found = (*session)->Find((*session)->UriQuery(CKO_PRIVATE_KEY));
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  const CK_OBJECT_HANDLE key = (*found)[0];

  // Asking for the secret value (ed25519/EC: CKA_VALUE; RSA: CKA_PRIVATE_EXPONENT) is refused.
  for (CK_ATTRIBUTE_TYPE secret :
       {CK_ATTRIBUTE_TYPE{CKA_VALUE}, CKA_PRIVATE_EXPONENT, CKA_PRIME_1}) {
    uint8_t buffer[1024];
    CK_ATTRIBUTE attribute{secret, buffer, sizeof(buffer)};
    const CK_RV rv =
        (*session)->fn()->C_GetAttributeValue((*session)->handle(), key, &attribute, 1);
    EXPECT_NE(rv, CKR_OK) << "attribute 0x" << std::hex << secret;
    auto through_api = (*session)->Attribute(key, secret);
    EXPECT_FALSE(through_api);
  }
  if (scheme != crypto::KeyScheme::kRsaPssSha256) {
    uint8_t buffer[256];
    CK_ATTRIBUTE attribute{CKA_VALUE, buffer, sizeof(buffer)};
    EXPECT_EQ((*session)->fn()->C_GetAttributeValue((*session)->handle(), key, &attribute, 1),
              CKR_ATTRIBUTE_SENSITIVE);
  }
  auto sensitive = (*session)->Attribute(key, CKA_SENSITIVE);
  ASSERT_TRUE(sensitive);
  EXPECT_EQ(*sensitive, std::vector<uint8_t>{CK_TRUE});
  auto extractable = (*session)->Attribute(key, CKA_EXTRACTABLE);
  ASSERT_TRUE(extractable);
  EXPECT_EQ(*extractable, std::vector<uint8_t>{CK_FALSE});
  // Neither can it be made extractable afterwards (PKCS#11: EXTRACTABLE true->false only).
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE make_extractable{CKA_EXTRACTABLE, &yes, sizeof(yes)};
  EXPECT_NE((*session)->fn()->C_SetAttributeValue((*session)->handle(), key, &make_extractable, 1),
            CKR_OK);
}

INSTANTIATE_TEST_SUITE_P(Schemes, TokenKeyTest,
                         ::testing::Values(crypto::KeyScheme::kEd25519,
                                           crypto::KeyScheme::kEcdsaP256,
                                           crypto::KeyScheme::kRsaPssSha256),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case crypto::KeyScheme::kEd25519:
                               return std::string("Ed25519");
                             case crypto::KeyScheme::kEcdsaP256:
                               return std::string("EcdsaP256");
                             case crypto::KeyScheme::kRsaPssSha256:
                               return std::string("RsaPss");
                           }
                           return std::string("Unknown");
                         });

class TokenErrorTest : public SoftHsmTest {};

TEST_F(TokenErrorTest, WrongPinIsAClearErrorWithoutThePin) {
  ASSERT_TRUE(GenerateTokenKey(Uri("k"), crypto::KeyScheme::kEd25519, Pin()));
  auto signer = TokenSigner::Open(Uri("k"), WrongPin());
  ASSERT_FALSE(signer);
  const std::string message = signer.error().message();
  EXPECT_EQ(signer.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("CKR_PIN_INCORRECT"), std::string::npos) << message;
  EXPECT_NE(message.find(Uri("k")), std::string::npos) << message;
  EXPECT_NE(message.find("C_Login"), std::string::npos) << message;
  EXPECT_EQ(message.find(testing::kWrongPin), std::string::npos) << message;
  EXPECT_EQ(message.find(testing::kUserPin), std::string::npos) << message;
}

TEST_F(TokenErrorTest, PinFromUriPinSource) {
  ASSERT_TRUE(GenerateTokenKey(Uri("k"), crypto::KeyScheme::kEd25519, Pin()));
  const fs::path pin_file = dir_ / "pin.txt";
  std::ofstream(pin_file) << testing::kUserPin << "\n";
  PassphraseSource none;  // interactive: the URI's pin-source wins over a prompt
  auto signer = TokenSigner::Open(Uri("k") + "?pin-source=file:" + pin_file.string(), none);
  ASSERT_TRUE(signer) << signer.error().ToString();
}

TEST_F(TokenErrorTest, MissingTokenObjectOrModuleIsNamed) {
  ASSERT_TRUE(GenerateTokenKey(Uri("k"), crypto::KeyScheme::kEd25519, Pin()));
  auto no_token = TokenSigner::Open("pkcs11:token=no-such-token;object=k", Pin());
  ASSERT_FALSE(no_token);
  EXPECT_EQ(no_token.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(no_token.error().message().find("no initialized token matches"), std::string::npos)
      << no_token.error().message();
  EXPECT_NE(no_token.error().message().find(testing::kTokenLabel), std::string::npos);

  auto no_object = TokenSigner::Open(Uri("no-such-key"), Pin());
  ASSERT_FALSE(no_object);
  EXPECT_EQ(no_object.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(no_object.error().message().find("no private key"), std::string::npos)
      << no_object.error().message();
  EXPECT_NE(no_object.error().message().find("object=no-such-key"), std::string::npos);

  auto no_public = ReadTokenPublicKey(Uri("no-such-key"));
  ASSERT_FALSE(no_public);
  EXPECT_EQ(no_public.error().kind(), ErrorKind::kNotFound);

  auto no_module = TokenSigner::Open(Uri("k") + "?module-path=/nonexistent/libp11.so", Pin());
  ASSERT_FALSE(no_module);
  EXPECT_EQ(no_module.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(no_module.error().message().find("cannot load the PKCS#11 module"), std::string::npos);
}

TEST_F(TokenErrorTest, KeygenRefusesALabelOrIdInUse) {
  auto first = GenerateTokenKey(Uri("dup") + ";id=%07", crypto::KeyScheme::kEd25519, Pin());
  ASSERT_TRUE(first) << first.error().ToString();
  auto same_label = GenerateTokenKey(Uri("dup"), crypto::KeyScheme::kEcdsaP256, Pin());
  ASSERT_FALSE(same_label);
  EXPECT_NE(same_label.error().message().find("already holds"), std::string::npos);
  auto same_id = GenerateTokenKey(Uri("other") + ";id=%07", crypto::KeyScheme::kEcdsaP256, Pin());
  ASSERT_FALSE(same_id);
  // The original key is still the only one and still signs.
  auto signer = TokenSigner::Open(Uri("dup"), Pin());
  ASSERT_TRUE(signer) << signer.error().ToString();
  EXPECT_EQ((*signer)->public_key().KeyId(), first->public_key.KeyId());
}

TEST_F(TokenErrorTest, LoadSigningKeyTakesUrisAndSharesTheModule) {
  auto a = GenerateTokenKey(Uri("a"), crypto::KeyScheme::kEd25519, Pin());
  auto b = GenerateTokenKey(Uri("b"), crypto::KeyScheme::kEcdsaP256, Pin());
  ASSERT_TRUE(a && b);
  // Two keys of one token open at once (as publish does with snapshot and timestamp).
  auto key_a = repo::LoadSigningKey(Uri("a"), Pin());
  ASSERT_TRUE(key_a) << key_a.error().ToString();
  auto key_b = repo::LoadSigningKey(Uri("b"), Pin());
  ASSERT_TRUE(key_b) << key_b.error().ToString();
  EXPECT_TRUE(key_a->on_token());
  EXPECT_EQ(key_b->public_key().KeyId(), b->public_key.KeyId());
  auto sig_a = key_a->Sign(Bytes("x"));
  auto sig_b = key_b->Sign(Bytes("x"));
  ASSERT_TRUE(sig_a && sig_b);
  EXPECT_TRUE(a->public_key.Verify(Bytes("x"), *sig_a));
  EXPECT_TRUE(b->public_key.Verify(Bytes("x"), *sig_b));
  auto pub = repo::LoadPublicKey(Uri("b"));
  ASSERT_TRUE(pub) << pub.error().ToString();
  EXPECT_EQ(pub->KeyId(), b->public_key.KeyId());
}

}  // namespace
}  // namespace mdu::signer::pkcs11
