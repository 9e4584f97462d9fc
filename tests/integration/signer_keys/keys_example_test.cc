// The throw-away key set in keys-example/ decrypts with its documented passphrase and matches
// roles.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "core/json/parser.h"
#include "signer/keystore/keystore.h"
#include "tests/integration/signer_keys/test_util.h"

namespace mdu::signer {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kDocumentedPassphrase = "example-passphrase-NOT-FOR-PRODUCTION";

json::Value LoadRoles() {
  auto roles = json::Parse(testing::ReadAll(fs::path(MDU_KEYS_EXAMPLE_DIR) / "roles.json"));
  if (!roles) {
    ADD_FAILURE() << roles.error().ToString();
  }
  return std::move(roles).value_or(json::Value());
}

TEST(KeysExample, RolesListTheDemoThresholds) {
  json::Value roles = LoadRoles();
  ASSERT_TRUE(roles.is_object());
  EXPECT_EQ(roles.Find("passphrase")->as_string(), kDocumentedPassphrase);
  const json::Value* by_role = roles.Find("roles");
  ASSERT_NE(by_role, nullptr);
  const std::pair<std::string_view, std::pair<int64_t, size_t>> expected[] = {
      {"root", {2, 3}}, {"targets", {1, 1}}, {"snapshot", {1, 1}}, {"timestamp", {1, 1}}};
  for (const auto& [role, threshold_and_count] : expected) {
    const json::Value* entry = by_role->Find(role);
    ASSERT_NE(entry, nullptr) << role;
    EXPECT_EQ(entry->Find("threshold")->as_int(), threshold_and_count.first) << role;
    EXPECT_EQ(entry->Find("keys")->as_array().size(), threshold_and_count.second) << role;
  }
}

TEST(KeysExample, EveryKeyDecryptsWithTheDocumentedPassphrase) {
  json::Value roles = LoadRoles();
  ASSERT_TRUE(roles.is_object());
  const SecureBuffer passphrase = SecureBuffer::CopyOf(kDocumentedPassphrase);
  std::set<std::string> keyids;
  for (const auto& [role, entry] : roles.Find("roles")->as_object()) {
    for (const json::Value& key : entry.Find("keys")->as_array()) {
      const fs::path private_path =
          fs::path(MDU_KEYS_EXAMPLE_DIR) / key.Find("private_key_file")->as_string();
      const fs::path public_path =
          fs::path(MDU_KEYS_EXAMPLE_DIR) / key.Find("public_key_file")->as_string();
      const std::string& keyid = key.Find("keyid")->as_string();
      auto loaded = LoadPrivateKey(private_path, passphrase);
      ASSERT_TRUE(loaded) << role << ": " << loaded.error().ToString();
      EXPECT_EQ(loaded->public_key().KeyId(), keyid) << private_path;
      EXPECT_EQ(loaded->public_key().scheme(), crypto::KeyScheme::kEd25519);
      auto public_key = ParsePublicKeyFile(testing::ReadAll(public_path), public_path.string());
      ASSERT_TRUE(public_key) << public_key.error().ToString();
      EXPECT_EQ(public_key->KeyId(), keyid) << public_path;
      auto info = InspectKeyFile(testing::ReadAll(private_path), private_path.string());
      ASSERT_TRUE(info);
      EXPECT_EQ(info->kdf_limits, sealing::InteractiveLimits());  // as the README says
      keyids.insert(keyid);
    }
  }
  EXPECT_EQ(keyids.size(), 6u);  // six distinct keys
}

TEST(KeysExample, WrongPassphraseIsRejected) {
  auto loaded = LoadPrivateKey(fs::path(MDU_KEYS_EXAMPLE_DIR) / "root-1.key.json",
                               SecureBuffer::CopyOf(std::string_view("example-passphrase")));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind(), ErrorKind::kCrypto);
}

}  // namespace
}  // namespace mdu::signer
