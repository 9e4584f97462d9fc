// Device identity from certificate URIs and operator bearer tokens with roles.
#include "repo-server/auth.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/crypto/hash.h"

namespace mdu::server {
namespace {

TEST(DeviceIdFromUris, TakesTheDeviceUrnAndIgnoresOtherUris) {
  std::vector<std::string> uris = {"https://example.com/x", "urn:mdu:device:pump-0042"};
  auto id = DeviceIdFromUris(uris);
  ASSERT_TRUE(id) << id.error().ToString();
  EXPECT_EQ(*id, "pump-0042");
}

TEST(DeviceIdFromUris, RefusesACertificateWithoutDeviceUrn) {
  std::vector<std::string> uris = {"spiffe://x/y"};
  auto id = DeviceIdFromUris(uris);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().kind(), ErrorKind::kPolicy);
  EXPECT_FALSE(DeviceIdFromUris({}));
}

TEST(DeviceIdFromUris, RefusesTwoDifferentIdsAndInvalidIds) {
  std::vector<std::string> two = {"urn:mdu:device:a", "urn:mdu:device:b"};
  EXPECT_FALSE(DeviceIdFromUris(two));
  std::vector<std::string> same = {"urn:mdu:device:a", "urn:mdu:device:a"};
  EXPECT_TRUE(DeviceIdFromUris(same));
  std::vector<std::string> bad = {"urn:mdu:device:../etc"};
  EXPECT_FALSE(DeviceIdFromUris(bad));
  std::vector<std::string> empty = {"urn:mdu:device:"};
  EXPECT_FALSE(DeviceIdFromUris(empty));
}

std::string Entry(const std::string& name, const std::string& role, const std::string& token) {
  return "{\"name\":\"" + name + "\",\"role\":\"" + role + "\",\"token_sha256\":\"" +
         crypto::Sha256Hex(token) + "\"}";
}

TEST(OperatorCredentials, AuthenticatesBearerTokensWithTheirRoles) {
  auto creds = OperatorCredentials::Parse("[" + Entry("alice", "publisher", "tok-a") + "," +
                                          Entry("bob", "viewer", "tok-b") + "]");
  ASSERT_TRUE(creds) << creds.error().ToString();
  EXPECT_EQ(creds->size(), 2u);
  auto alice = creds->Authenticate("Bearer tok-a");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_TRUE(MayPublish(alice->role));
  auto bob = creds->Authenticate("Bearer tok-b");
  ASSERT_TRUE(bob);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_FALSE(MayPublish(bob->role));
}

TEST(OperatorCredentials, RefusesUnknownMissingAndMalformedTokens) {
  auto creds = OperatorCredentials::Parse("[" + Entry("alice", "publisher", "tok-a") + "]");
  ASSERT_TRUE(creds);
  EXPECT_FALSE(creds->Authenticate("Bearer tok-b"));
  EXPECT_FALSE(creds->Authenticate("Bearer "));
  EXPECT_FALSE(creds->Authenticate(""));
  EXPECT_FALSE(creds->Authenticate("tok-a"));
  EXPECT_FALSE(creds->Authenticate("Basic tok-a"));
  EXPECT_FALSE(creds->Authenticate("Bearer tok-a "));
}

TEST(OperatorCredentials, RejectsMalformedFilesNamingTheProblem) {
  std::string digest = crypto::Sha256Hex("t");
  struct Case {
    std::string json;
    std::string says;
  } cases[] = {
      {"{}", "array"},
      {"[]", "no entries"},
      {"[1]", "object"},
      {"[{\"name\":\"a\",\"role\":\"admin\",\"token_sha256\":\"" + digest + "\"}]", "role"},
      {"[{\"name\":\"a\",\"role\":\"viewer\",\"token_sha256\":\"abc\"}]", "token_sha256"},
      {"[{\"name\":\"a\",\"role\":\"viewer\"}]", "token_sha256"},
      {"[{\"name\":\"a/b\",\"role\":\"viewer\",\"token_sha256\":\"" + digest + "\"}]", "name"},
      {"[{\"name\":\"a\",\"role\":\"viewer\",\"token_sha256\":\"" + digest + "\",\"x\":1}]",
       "unknown field"},
      {"[" + Entry("a", "viewer", "t") + "," + Entry("a", "viewer", "u") + "]", "duplicate"},
      {"[" + Entry("a", "viewer", "t") + "," + Entry("b", "viewer", "t") + "]", "duplicate"},
      {"[{", ""},
  };
  for (const Case& c : cases) {
    auto creds = OperatorCredentials::Parse(c.json);
    ASSERT_FALSE(creds) << c.json;
    EXPECT_NE(creds.error().ToString().find(c.says), std::string::npos)
        << c.json << " -> " << creds.error().ToString();
  }
}

}  // namespace
}  // namespace mdu::server
