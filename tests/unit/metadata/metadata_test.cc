#include "core/metadata/metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/hex.h"
#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::metadata {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kRepo = std::filesystem::path(MDU_TESTDATA_DIR) / "python-tuf-repo";
const std::filesystem::path kMetadataDir = kRepo / "metadata";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ReadMetadata(std::string_view name) { return ReadFile(kMetadataDir / name); }

template <class T>
Metadata<T> Load(std::string_view name) {
  auto parsed = ParseMetadata<T>(ReadMetadata(name));
  EXPECT_TRUE(parsed.has_value()) << name << ": " << parsed.error().ToString();
  return std::move(parsed).value();
}

Envelope LoadEnvelope(std::string_view name) {
  auto parsed = Envelope::Parse(ReadMetadata(name));
  EXPECT_TRUE(parsed.has_value()) << name << ": " << parsed.error().ToString();
  return std::move(parsed).value();
}

// The role name of a metadata file name: "1.bins-d.json" -> "bins-d", "timestamp.json" ->
// "timestamp".
std::string RoleOfFile(std::string name) {
  name.resize(name.size() - std::string_view(".json").size());
  size_t dot = name.find('.');
  if (dot != std::string::npos && std::all_of(name.begin(), name.begin() + static_cast<long>(dot),
                                              [](char c) { return c >= '0' && c <= '9'; })) {
    name.erase(0, dot + 1);
  }
  return name;
}

std::vector<std::string> MetadataFileNames() {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kMetadataDir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Parses `signed_value` as the typed role its `_type` names and returns ToValue() of it.
Result<json::Value> TypedRoundTrip(const json::Value& signed_value) {
  const json::Value* type = signed_value.Find("_type");
  if (type == nullptr || !type->is_string()) {
    return MakeError(ErrorKind::kBadMetadata, "no _type");
  }
  const std::string& name = type->as_string();
  if (name == "root") {
    MDU_ASSIGN_OR_RETURN(Root role, Root::FromValue(signed_value));
    return role.ToValue();
  }
  if (name == "timestamp") {
    MDU_ASSIGN_OR_RETURN(Timestamp role, Timestamp::FromValue(signed_value));
    return role.ToValue();
  }
  if (name == "snapshot") {
    MDU_ASSIGN_OR_RETURN(Snapshot role, Snapshot::FromValue(signed_value));
    return role.ToValue();
  }
  MDU_ASSIGN_OR_RETURN(Targets role, Targets::FromValue(signed_value));
  return role.ToValue();
}

// ---------------------------------------------------------------------------------------------
// The python-tuf reference repository.

TEST(PythonTufRepo, EveryFileParsesAndRoundTripsExactly) {
  const std::vector<std::string> names = MetadataFileNames();
  ASSERT_EQ(names.size(), 25u);
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const std::string bytes = ReadMetadata(name);
    auto envelope = Envelope::Parse(bytes);
    ASSERT_TRUE(envelope.has_value()) << envelope.error().ToString();
    auto typed = TypedRoundTrip(envelope->signed_value);
    ASSERT_TRUE(typed.has_value()) << typed.error().ToString();
    EXPECT_EQ(*typed, envelope->signed_value);
    auto document = json::Parse(bytes);
    ASSERT_TRUE(document.has_value());
    EXPECT_EQ(envelope->ToValue(), *document);
  }
}

// The client's overload consumes the parsed document (strings move into the model): it must
// build exactly the model the reading overload builds, for every targets file of the reference
// repository, and leave no target behind in the consumed document.
TEST(PythonTufRepo, ConsumingTargetsParseBuildsTheSameModel) {
  size_t targets_files = 0;
  for (const std::string& name : MetadataFileNames()) {
    SCOPED_TRACE(name);
    Envelope envelope = LoadEnvelope(name);
    const json::Value* type = envelope.signed_value.Find("_type");
    if (type == nullptr || type->as_string() != "targets") continue;
    ++targets_files;
    auto read = Targets::FromValue(envelope.signed_value);
    ASSERT_TRUE(read.has_value()) << read.error().ToString();
    json::Value owned = envelope.signed_value;
    auto consumed = Targets::FromValue(std::move(owned));
    ASSERT_TRUE(consumed.has_value()) << consumed.error().ToString();
    EXPECT_EQ(consumed->ToValue(), read->ToValue());
    EXPECT_EQ(consumed->targets.size(), read->targets.size());
    if (!read->targets.empty()) {
      EXPECT_TRUE(owned.Find("targets")->as_object().empty());  // moved, not copied
    }
  }
  EXPECT_GT(targets_files, 3u);
}

TEST(PythonTufRepo, SerializeReproducesPythonTufBytes) {
  for (const std::string& name : MetadataFileNames()) {
    SCOPED_TRACE(name);
    const std::string bytes = ReadMetadata(name);
    Envelope envelope = LoadEnvelope(name);
    EXPECT_EQ(envelope.Serialize(), bytes);
  }
}

TEST(PythonTufRepo, TypedFieldsMatchTheReadme) {
  Metadata<Root> root2 = Load<Root>("2.root.json");
  EXPECT_EQ(root2.role.common.version, 2);
  EXPECT_EQ(root2.role.common.spec_version, "1.0.31");
  EXPECT_EQ(FormatExpires(root2.role.common.expires), "2036-01-01T00:00:00Z");
  EXPECT_TRUE(root2.role.consistent_snapshot);
  EXPECT_EQ(root2.role.roles.at("root").threshold, 2);
  EXPECT_EQ(root2.role.roles.at("root").keyids.size(), 3u);
  EXPECT_EQ(root2.role.keys.size(), 6u);

  Metadata<Timestamp> timestamp = Load<Timestamp>("timestamp.json");
  EXPECT_EQ(timestamp.role.snapshot_meta.version, 1);
  EXPECT_EQ(timestamp.role.snapshot_meta.length, 3738);
  ASSERT_EQ(timestamp.role.snapshot_meta.hashes.size(), 1u);
  EXPECT_EQ(timestamp.role.snapshot_meta.hashes[0].first, "sha256");
  // Timestamp's snapshot hash and length describe 1.snapshot.json (spec 5.5.2).
  EXPECT_TRUE(timestamp.role.snapshot_meta.VerifyLengthAndHashes("snapshot version 1",
                                                                 ReadMetadata("1.snapshot.json")));

  Metadata<Snapshot> snapshot = Load<Snapshot>("1.snapshot.json");
  EXPECT_EQ(snapshot.role.meta.size(), 20u);  // targets + product-a/b + bulk + 16 bins
  for (const auto& [path, meta] : snapshot.role.meta) {
    SCOPED_TRACE(path);
    EXPECT_TRUE(meta.VerifyLengthAndHashes(path, ReadMetadata("1." + path)));
  }

  Metadata<Targets> targets = Load<Targets>("1.targets.json");
  ASSERT_EQ(targets.role.targets.size(), 1u);
  const TargetFile& manifest = targets.role.targets.at("manifest.txt");
  ASSERT_TRUE(manifest.Sha256().has_value());
  EXPECT_EQ(*manifest.Sha256(), "d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5");
  const json::Value* security_version = manifest.custom.Find("security_version");
  ASSERT_NE(security_version, nullptr);
  EXPECT_EQ(*security_version, json::Value(3));
  const std::string manifest_bytes =
      ReadFile(kRepo / "targets" /
               "d60c270baa755e81f66806d66205c0aec98e870078f9e289ee92d88000e86fd5.manifest.txt");
  EXPECT_TRUE(manifest.VerifyLengthAndHashes("manifest.txt", manifest_bytes));
  auto tampered = manifest.VerifyLengthAndHashes("manifest.txt", manifest_bytes + "x");
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().kind(), ErrorKind::kLengthMismatch);
  std::string same_length = manifest_bytes;
  same_length[0] = static_cast<char>(same_length[0] ^ 1);
  auto mixed = manifest.VerifyLengthAndHashes("manifest.txt", same_length);
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().kind(), ErrorKind::kHashMismatch);

  ASSERT_TRUE(targets.role.delegations.has_value());
  ASSERT_TRUE(targets.role.delegations->roles.has_value());
  const std::vector<DelegatedRole>& roles = *targets.role.delegations->roles;
  ASSERT_EQ(roles.size(), 3u);
  EXPECT_EQ(roles[0].name, "product-a");
  EXPECT_TRUE(roles[0].terminating);
  EXPECT_EQ(roles[1].name, "product-b");
  EXPECT_FALSE(roles[1].terminating);
  EXPECT_EQ(roles[2].name, "bulk");
}

TEST(PythonTufRepo, SignaturesVerifyAlongTheChainOfTrust) {
  Metadata<Root> root1 = Load<Root>("1.root.json");
  Metadata<Root> root2 = Load<Root>("2.root.json");
  // Spec 5.3.4: the new root is signed by a threshold of the old root and of itself.
  EXPECT_TRUE(root1.role.VerifyDelegate("root", root1.envelope));
  EXPECT_TRUE(root1.role.VerifyDelegate("root", root2.envelope));
  EXPECT_TRUE(root2.role.VerifyDelegate("root", root2.envelope));
  // root v1 alone does not satisfy root v2's 2-of-3.
  auto self_signed_only = root2.role.VerifyDelegate("root", root1.envelope);
  ASSERT_FALSE(self_signed_only);
  EXPECT_EQ(self_signed_only.error().kind(), ErrorKind::kUnsignedMetadata);
  EXPECT_EQ(self_signed_only.error().message(), "\"root\": 0 of 2 required signatures are valid");

  EXPECT_TRUE(root2.role.VerifyDelegate("timestamp", LoadEnvelope("timestamp.json")));
  EXPECT_TRUE(root2.role.VerifyDelegate("timestamp", LoadEnvelope("1.timestamp.json")));
  EXPECT_TRUE(root2.role.VerifyDelegate("snapshot", LoadEnvelope("1.snapshot.json")));
  EXPECT_TRUE(root2.role.VerifyDelegate("targets", LoadEnvelope("1.targets.json")));
  // A file signed by another role's key does not verify as this role.
  auto wrong_role = root2.role.VerifyDelegate("targets", LoadEnvelope("1.snapshot.json"));
  ASSERT_FALSE(wrong_role);
  EXPECT_EQ(wrong_role.error().kind(), ErrorKind::kUnsignedMetadata);
  auto no_role = root2.role.VerifyDelegate("product-a", LoadEnvelope("1.product-a.json"));
  ASSERT_FALSE(no_role);
  EXPECT_EQ(no_role.error().kind(), ErrorKind::kBadMetadata);

  Metadata<Targets> targets = Load<Targets>("1.targets.json");
  for (std::string_view role : {"product-a", "product-b", "bulk"}) {
    SCOPED_TRACE(role);
    EXPECT_TRUE(
        targets.role.VerifyDelegate(role, LoadEnvelope("1." + std::string(role) + ".json")));
  }
  auto bin_by_targets = targets.role.VerifyDelegate("bins-0", LoadEnvelope("1.bins-0.json"));
  ASSERT_FALSE(bin_by_targets);
  EXPECT_EQ(bin_by_targets.error().kind(), ErrorKind::kBadMetadata);

  Metadata<Targets> bulk = Load<Targets>("1.bulk.json");
  for (const std::string& name : MetadataFileNames()) {
    const std::string role = RoleOfFile(name);
    if (!role.starts_with("bins-")) continue;
    SCOPED_TRACE(role);
    // All bins share one key, so any bin's file also verifies as another bin; what keeps the
    // bins apart is the hash of each target path (SuccinctBinsMatchTheReadmeTable).
    EXPECT_TRUE(bulk.role.VerifyDelegate(role, LoadEnvelope(name)));
  }
  auto product_by_bulk = bulk.role.VerifyDelegate("product-a", LoadEnvelope("1.product-a.json"));
  ASSERT_FALSE(product_by_bulk);
  EXPECT_EQ(product_by_bulk.error().kind(), ErrorKind::kBadMetadata);
}

TEST(PythonTufRepo, SuccinctBinsMatchTheReadmeTable) {
  const std::map<std::string, std::string> expected = {
      {"bulk/pkg-00.bin", "bins-d"}, {"bulk/pkg-01.bin", "bins-6"}, {"bulk/pkg-02.bin", "bins-2"},
      {"bulk/pkg-03.bin", "bins-6"}, {"bulk/pkg-04.bin", "bins-3"}, {"bulk/pkg-05.bin", "bins-7"},
      {"bulk/pkg-06.bin", "bins-0"}, {"bulk/pkg-07.bin", "bins-3"}, {"bulk/pkg-08.bin", "bins-0"},
      {"bulk/pkg-09.bin", "bins-5"}, {"bulk/pkg-10.bin", "bins-a"}, {"bulk/pkg-11.bin", "bins-f"},
      {"bulk/pkg-12.bin", "bins-2"}, {"bulk/pkg-13.bin", "bins-0"}, {"bulk/pkg-14.bin", "bins-c"},
      {"bulk/pkg-15.bin", "bins-6"}, {"bulk/pkg-16.bin", "bins-7"}, {"bulk/pkg-17.bin", "bins-8"},
      {"bulk/pkg-18.bin", "bins-4"}, {"bulk/pkg-19.bin", "bins-2"},
  };
  Metadata<Targets> bulk = Load<Targets>("1.bulk.json");
  ASSERT_TRUE(bulk.role.delegations.has_value());
  ASSERT_TRUE(bulk.role.delegations->succinct_roles.has_value());
  const SuccinctRoles& bins = *bulk.role.delegations->succinct_roles;
  EXPECT_EQ(bins.bit_length, 4);
  EXPECT_EQ(bins.name_prefix, "bins");
  for (const auto& [path, bin] : expected) {
    SCOPED_TRACE(path);
    EXPECT_EQ(bins.RoleForTarget(path), bin);
    const auto roles = bulk.role.delegations->RolesForTarget(path);
    ASSERT_EQ(roles.size(), 1u);
    EXPECT_EQ(roles[0].first, bin);
    EXPECT_TRUE(roles[0].second);
    // And the bin's own metadata lists the target.
    Metadata<Targets> bin_metadata = Load<Targets>("1." + bin + ".json");
    EXPECT_EQ(bin_metadata.role.targets.count(path), 1u);
  }
  // Every bin lists only targets that hash into it.
  for (const std::string& name : MetadataFileNames()) {
    const std::string role = RoleOfFile(name);
    if (!role.starts_with("bins-")) continue;
    Metadata<Targets> bin_metadata = Load<Targets>(name);
    for (const auto& [path, target] : bin_metadata.role.targets) {
      EXPECT_EQ(bins.RoleForTarget(path), role) << path;
    }
  }
  const std::vector<std::string> names = bins.RoleNames();
  ASSERT_EQ(names.size(), 16u);
  EXPECT_EQ(names.front(), "bins-0");
  EXPECT_EQ(names.back(), "bins-f");
  EXPECT_TRUE(bins.IsDelegatedRole("bins-a"));
  EXPECT_FALSE(bins.IsDelegatedRole("bins-A"));
  EXPECT_FALSE(bins.IsDelegatedRole("bins-10"));
  EXPECT_FALSE(bins.IsDelegatedRole("bins-"));
  EXPECT_FALSE(bins.IsDelegatedRole("bins"));
  EXPECT_FALSE(bins.IsDelegatedRole("bin-a"));
  EXPECT_FALSE(bins.IsDelegatedRole("binsxa"));
}

TEST(PythonTufRepo, PathPatternsSelectTheDelegatedRoles) {
  Metadata<Targets> targets = Load<Targets>("1.targets.json");
  const Delegations& delegations = *targets.role.delegations;
  const std::vector<DelegatedRole>& roles = *delegations.roles;
  EXPECT_FALSE(roles[0].IsDelegatedPath("product-b/app-2.1.tar"));
  EXPECT_TRUE(roles[1].IsDelegatedPath("product-b/app-2.1.tar"));
  EXPECT_TRUE(roles[0].IsDelegatedPath("product-a/firmware-1.0.bin"));
  EXPECT_FALSE(roles[0].IsDelegatedPath("product-a/sub/firmware-1.0.bin"));

  using Roles = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(delegations.RolesForTarget("product-b/app-2.1.tar"), (Roles{{"product-b", false}}));
  EXPECT_EQ(delegations.RolesForTarget("product-a/missing.bin"), (Roles{{"product-a", true}}));
  EXPECT_EQ(delegations.RolesForTarget("bulk/pkg-00.bin"), (Roles{{"bulk", false}}));
  EXPECT_EQ(delegations.RolesForTarget("manifest.txt"), Roles{});
}

// ---------------------------------------------------------------------------------------------
// Validation: each rule rejects with kBadMetadata and a message naming the field.

class Validation : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = LoadEnvelope("2.root.json").signed_value;
    timestamp_ = LoadEnvelope("timestamp.json").signed_value;
    snapshot_ = LoadEnvelope("1.snapshot.json").signed_value;
    targets_ = LoadEnvelope("1.targets.json").signed_value;
    bulk_ = LoadEnvelope("1.bulk.json").signed_value;
  }

  template <class T>
  static void ExpectBad(const json::Value& signed_value, std::string_view field) {
    auto result = T::FromValue(signed_value);
    ASSERT_FALSE(result.has_value()) << "accepted; expected an error naming " << field;
    EXPECT_EQ(result.error().kind(), ErrorKind::kBadMetadata) << result.error().ToString();
    EXPECT_THAT(result.error().message(), HasSubstr(std::string(field)));
    // The consuming overload (Targets only; the others bind the copy as const) refuses the same.
    json::Value owned = signed_value;
    auto consumed = T::FromValue(std::move(owned));
    ASSERT_FALSE(consumed.has_value()) << "consuming parse accepted; expected " << field;
    EXPECT_EQ(consumed.error().message(), result.error().message());
  }

  static json::Value& FirstDelegatedRole(json::Value& targets) {
    return targets.Find("delegations")->Find("roles")->as_array()[0];
  }

  json::Value root_, timestamp_, snapshot_, targets_, bulk_;
};

TEST_F(Validation, UnmodifiedFilesAreAccepted) {
  EXPECT_TRUE(Root::FromValue(root_));
  EXPECT_TRUE(Timestamp::FromValue(timestamp_));
  EXPECT_TRUE(Snapshot::FromValue(snapshot_));
  EXPECT_TRUE(Targets::FromValue(targets_));
  EXPECT_TRUE(Targets::FromValue(bulk_));
}

TEST_F(Validation, RejectsWrongType) {
  ExpectBad<Root>(targets_, "_type");
  ExpectBad<Targets>(root_, "_type");
  ExpectBad<Snapshot>(timestamp_, "_type");
  targets_.Set("_type", json::Value(1));
  ExpectBad<Targets>(targets_, "_type");
  targets_.Erase("_type");
  ExpectBad<Targets>(targets_, "_type");
  ExpectBad<Targets>(json::Value(json::Array{}), "signed");
}

TEST_F(Validation, RejectsUnsupportedSpecVersion) {
  for (std::string_view bad : {"2.0.0", "1", "1.0.0.0", "1.x", "1..0", "01.0", "", "v1.0"}) {
    SCOPED_TRACE(bad);
    timestamp_.Set("spec_version", json::Value(bad));
    ExpectBad<Timestamp>(timestamp_, "spec_version");
  }
  for (std::string_view good : {"1.0", "1.0.31", "1.99.0"}) {
    timestamp_.Set("spec_version", json::Value(good));
    EXPECT_TRUE(Timestamp::FromValue(timestamp_)) << good;
  }
}

TEST_F(Validation, RejectsVersionBelowOneOrNotAnInteger) {
  snapshot_.Set("version", json::Value(0));
  ExpectBad<Snapshot>(snapshot_, "version");
  snapshot_.Set("version", json::Value(-1));
  ExpectBad<Snapshot>(snapshot_, "version");
  snapshot_.Set("version", json::Value("1"));
  ExpectBad<Snapshot>(snapshot_, "version");
  snapshot_.Set("version", json::Value(true));
  ExpectBad<Snapshot>(snapshot_, "version");
}

TEST_F(Validation, RejectsMissingOrMalformedExpires) {
  root_.Erase("expires");
  ExpectBad<Root>(root_, "expires");
  root_.Set("expires", json::Value("2036-01-01 00:00:00"));
  ExpectBad<Root>(root_, "expires");
  root_.Set("expires", json::Value(2082758400));
  ExpectBad<Root>(root_, "expires");
}

TEST_F(Validation, RejectsThresholdBelowOne) {
  root_.Find("roles")->Find("snapshot")->Set("threshold", json::Value(0));
  ExpectBad<Root>(root_, "roles.snapshot.threshold");
  FirstDelegatedRole(targets_).Set("threshold", json::Value(0));
  ExpectBad<Targets>(targets_, "delegations.roles[0].threshold");
  bulk_.Find("delegations")->Find("succinct_roles")->Set("threshold", json::Value(-3));
  ExpectBad<Targets>(bulk_, "succinct_roles.threshold");
}

TEST_F(Validation, RejectsDuplicateKeyIdsInARole) {
  json::Value* keyids = root_.Find("roles")->Find("root")->Find("keyids");
  keyids->as_array().push_back(keyids->as_array()[1]);
  ExpectBad<Root>(root_, "roles.root.keyids");
  json::Value* delegated = FirstDelegatedRole(targets_).Find("keyids");
  delegated->as_array().push_back(delegated->as_array()[0]);
  ExpectBad<Targets>(targets_, "delegations.roles[0].keyids");
}

TEST_F(Validation, RoleKeyIdsNeedNotBeListedInKeys) {
  // As python-tuf: an unknown keyid in a role is allowed (it just never verifies).
  root_.Find("roles")->Find("root")->Find("keyids")->as_array().push_back(
      json::Value(std::string(64, 'e')));
  EXPECT_TRUE(Root::FromValue(root_));
}

TEST_F(Validation, RejectsRootRolesOtherThanTheFourTopLevelRoles) {
  json::Value extra = root_;
  extra.Find("roles")->Set("mirrors", *root_.Find("roles")->Find("root"));
  ExpectBad<Root>(extra, "roles");
  root_.Find("roles")->Erase("timestamp");
  ExpectBad<Root>(root_, "roles.timestamp");
}

TEST_F(Validation, RejectsBadKeys) {
  json::Value* key =
      root_.Find("keys")->Find("9fc8b08792e1068e84eed684d19875d595d0913c574054a59b135d3ff52afc55");
  ASSERT_NE(key, nullptr);
  key->Find("keyval")->Set("public", json::Value("not hex"));
  ExpectBad<Root>(root_, "keys[\"9fc8b087");
}

TEST_F(Validation, RejectsBothPathsAndPathHashPrefixes) {
  FirstDelegatedRole(targets_).Set("path_hash_prefixes", json::Value(json::Array{"ab"}));
  ExpectBad<Targets>(targets_, "path_hash_prefixes");
  FirstDelegatedRole(targets_).Erase("paths");
  EXPECT_TRUE(Targets::FromValue(targets_));
  FirstDelegatedRole(targets_).Erase("path_hash_prefixes");
  ExpectBad<Targets>(targets_, "paths");
}

TEST_F(Validation, RejectsBothRolesAndSuccinctRoles) {
  targets_.Find("delegations")
      ->Set("succinct_roles", *bulk_.Find("delegations")->Find("succinct_roles"));
  ExpectBad<Targets>(targets_, "succinct_roles");
  bulk_.Find("delegations")->Erase("succinct_roles");
  ExpectBad<Targets>(bulk_, "succinct_roles");
}

TEST_F(Validation, RejectsBitLengthOutsideOneToThirtyTwo) {
  json::Value* succinct = bulk_.Find("delegations")->Find("succinct_roles");
  for (int bad : {33, 0, -1}) {
    succinct->Set("bit_length", json::Value(bad));
    ExpectBad<Targets>(bulk_, "bit_length");
  }
  succinct->Set("bit_length", json::Value(32));
  auto parsed = Targets::FromValue(bulk_);
  ASSERT_TRUE(parsed);
  const SuccinctRoles& bins = *parsed->delegations->succinct_roles;
  EXPECT_EQ(bins.RoleForTarget("bulk/pkg-00.bin").size(), std::string("bins-").size() + 8);
  EXPECT_TRUE(bins.IsDelegatedRole("bins-ffffffff"));
}

TEST_F(Validation, RejectsNonHexOrEmptyHashes) {
  json::Value* hashes = snapshot_.Find("meta")->Find("targets.json")->Find("hashes");
  hashes->Set("sha256", json::Value("xyz"));
  ExpectBad<Snapshot>(snapshot_, "hashes[\"sha256\"]");
  *hashes = json::Value::EmptyObject();
  ExpectBad<Snapshot>(snapshot_, "hashes");

  json::Value* target_hashes = targets_.Find("targets")->Find("manifest.txt")->Find("hashes");
  target_hashes->Set("sha512", json::Value("0g"));
  ExpectBad<Targets>(targets_, "targets[\"manifest.txt\"].hashes[\"sha512\"]");
}

TEST_F(Validation, RejectsNegativeLengths) {
  snapshot_.Find("meta")->Find("targets.json")->Set("length", json::Value(-1));
  ExpectBad<Snapshot>(snapshot_, "length");
  targets_.Find("targets")->Find("manifest.txt")->Set("length", json::Value(-1));
  ExpectBad<Targets>(targets_, "length");
  targets_.Find("targets")->Find("manifest.txt")->Erase("length");
  ExpectBad<Targets>(targets_, "length");
}

TEST_F(Validation, RejectsSnapshotMetaNotEndingInJson) {
  json::Value meta = *snapshot_.Find("meta")->Find("targets.json");
  snapshot_.Find("meta")->Set("targets", meta);
  ExpectBad<Snapshot>(snapshot_, "meta[\"targets\"]");
}

TEST_F(Validation, RejectsTimestampMetaOtherThanSnapshot) {
  json::Value meta = *timestamp_.Find("meta")->Find("snapshot.json");
  timestamp_.Find("meta")->Set("targets.json", meta);
  ExpectBad<Timestamp>(timestamp_, "meta");
  timestamp_.Find("meta")->Erase("snapshot.json");
  ExpectBad<Timestamp>(timestamp_, "meta");
}

TEST_F(Validation, RejectsDuplicateOrTopLevelDelegatedRoleNames) {
  json::Value duplicate = targets_;
  json::Array& roles = duplicate.Find("delegations")->Find("roles")->as_array();
  roles.push_back(roles[0]);
  ExpectBad<Targets>(duplicate, "delegations.roles");
  FirstDelegatedRole(targets_).Set("name", json::Value("snapshot"));
  ExpectBad<Targets>(targets_, "delegations.roles[0].name");
}

TEST_F(Validation, RejectsWrongFieldTypes) {
  FirstDelegatedRole(targets_).Set("terminating", json::Value("yes"));
  ExpectBad<Targets>(targets_, "terminating");
  root_.Set("consistent_snapshot", json::Value(1));
  ExpectBad<Root>(root_, "consistent_snapshot");
  targets_ = LoadEnvelope("1.targets.json").signed_value;
  FirstDelegatedRole(targets_).Set("paths", json::Value(json::Array{json::Value(1)}));
  ExpectBad<Targets>(targets_, "paths[0]");
}

TEST_F(Validation, KeepsUnknownFieldsAtEveryLevel) {
  targets_.Set("x-top", json::Value("a"));
  targets_.Find("targets")->Find("manifest.txt")->Set("x-target", json::Value(1));
  targets_.Find("delegations")->Set("x-delegations", json::Value(true));
  FirstDelegatedRole(targets_).Set("x-role", json::Value::EmptyObject());
  targets_.Find("targets")
      ->Find("manifest.txt")
      ->Find("hashes")
      ->Set("blake2b", json::Value(std::string(128, 'a')));
  auto parsed = Targets::FromValue(targets_);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->ToValue(), targets_);

  root_.Set("x-root", json::Value(json::Array{}));
  root_.Find("roles")->Find("root")->Set("x-keyrole", json::Value("k"));
  auto root = Root::FromValue(root_);
  ASSERT_TRUE(root);
  EXPECT_EQ(root->ToValue(), root_);

  snapshot_.Find("meta")->Find("targets.json")->Set("x-meta", json::Value(nullptr));
  auto snapshot = Snapshot::FromValue(snapshot_);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->ToValue(), snapshot_);

  bulk_.Find("delegations")->Find("succinct_roles")->Set("x-succinct", json::Value(5));
  auto bulk = Targets::FromValue(bulk_);
  ASSERT_TRUE(bulk);
  EXPECT_EQ(bulk->ToValue(), bulk_);
}

TEST_F(Validation, RejectsNonObjectEntries) {
  targets_.Find("targets")->Set("x.bin", json::Value(5));
  ExpectBad<Targets>(targets_, "targets[\"x.bin\"]");
  snapshot_.Find("meta")->Set("x.json", json::Value("v"));
  ExpectBad<Snapshot>(snapshot_, "meta[\"x.json\"]");
  root_.Find("keys")->Set("k", json::Value(json::Array{}));
  ExpectBad<Root>(root_, "keys[\"k\"]");
  json::Value fresh = LoadEnvelope("1.targets.json").signed_value;
  FirstDelegatedRole(fresh) = json::Value(nullptr);
  ExpectBad<Targets>(fresh, "delegations.roles[0]");
}

TEST_F(Validation, ExplicitNullCustomRoundTrips) {
  targets_.Find("targets")->Find("manifest.txt")->Set("custom", json::Value(nullptr));
  auto parsed = Targets::FromValue(targets_);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_TRUE(parsed->targets.at("manifest.txt").custom.is_null());
  EXPECT_EQ(parsed->ToValue(), targets_);
}

TEST_F(Validation, RootWithoutConsistentSnapshotRoundTrips) {
  root_.Erase("consistent_snapshot");
  auto root = Root::FromValue(root_);
  ASSERT_TRUE(root);
  EXPECT_FALSE(root->consistent_snapshot);
  EXPECT_EQ(root->ToValue(), root_);
}

TEST(Envelope, RejectsMalformedEnvelopes) {
  for (std::string_view bad :
       {R"([])", R"({"signed": {}})", R"({"signatures": [], "signed": []})",
        R"({"signatures": {}, "signed": {}})", R"({"signatures": [{"keyid": "ab"}], "signed": {}})",
        R"({"signatures": [{"keyid": 1, "sig": "ab"}], "signed": {}})", R"(not json)"}) {
    SCOPED_TRACE(bad);
    auto parsed = Envelope::Parse(bad);
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kBadMetadata);
  }
  auto ok = Envelope::Parse(R"({"signatures": [{"keyid": "ab", "sig": "cd", "x": 1}],
                                "signed": {"a": 1}, "extra": 2})");
  ASSERT_TRUE(ok) << ok.error().ToString();
  ASSERT_EQ(ok->signatures.size(), 1u);
  EXPECT_EQ(ok->signatures[0].unknown.size(), 1u);
  EXPECT_EQ(ok->unknown.size(), 1u);
  EXPECT_EQ(ok->CanonicalSigned(), R"({"a":1})");
}

TEST(ParseMetadataTest, RejectsAFileOfAnotherRole) {
  auto parsed = ParseMetadata<Snapshot>(ReadMetadata("timestamp.json"));
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_THAT(parsed.error().message(), HasSubstr("_type"));
}

// ---------------------------------------------------------------------------------------------
// Expiry times.

TEST(Expires, ParsesAndFormatsStrictIso8601) {
  EXPECT_EQ(ParseExpires("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(ParseExpires("2036-01-01T00:00:00Z").value(), 2082758400);
  EXPECT_EQ(ParseExpires("2000-02-29T23:59:59Z").value(), 951868799);
  EXPECT_EQ(ParseExpires("1969-12-31T23:59:59Z").value(), -1);
  EXPECT_EQ(FormatExpires(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatExpires(2082758400), "2036-01-01T00:00:00Z");
  for (std::string_view bad :
       {"2036-01-01 00:00:00", "2036-01-01T00:00:00", "2036-01-01T00:00:00z",
        "2036-01-01T00:00:00+00:00", "2036-1-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z", "2036-13-01T00:00:00Z", "2036-00-01T00:00:00Z",
        "2036-04-31T00:00:00Z", "2036-01-01T24:00:00Z", "2036-01-01T00:60:00Z",
        "2036-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "+036-01-01T00:00:00Z", ""}) {
    SCOPED_TRACE(bad);
    auto parsed = ParseExpires(bad);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kBadMetadata);
  }
  EXPECT_TRUE(ParseExpires("2024-02-29T12:00:00Z"));
  EXPECT_TRUE(ParseExpires("9999-12-31T23:59:59Z"));
  // Every day over four centuries survives a round trip.
  for (int64_t t = ParseExpires("1900-01-01T00:00:00Z").value();
       t < ParseExpires("2300-01-01T00:00:00Z").value(); t += 86400 + 3661) {
    ASSERT_EQ(ParseExpires(FormatExpires(t)).value(), t);
  }
  CommonFields common;
  common.expires = 100;
  EXPECT_FALSE(common.IsExpired(99));
  EXPECT_TRUE(common.IsExpired(100));
}

TEST(RoleTypeNameTest, NamesTheFourRoles) {
  EXPECT_EQ(RoleTypeName(RoleType::kRoot), "root");
  EXPECT_EQ(RoleTypeName(RoleType::kTimestamp), "timestamp");
  EXPECT_EQ(RoleTypeName(RoleType::kSnapshot), "snapshot");
  EXPECT_EQ(RoleTypeName(RoleType::kTargets), "targets");
}

// ---------------------------------------------------------------------------------------------
// Signature thresholds with our own keys.

class Threshold : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 4; ++i) {
      auto key = crypto::PrivateKey::Generate(crypto::KeyScheme::kEd25519);
      ASSERT_TRUE(key) << key.error().ToString();
      keys_.push_back(std::move(key).value());
    }
    Root root;
    root.common.version = 1;
    root.common.expires = ParseExpires("2036-01-01T00:00:00Z").value();
    for (const crypto::PrivateKey& key : keys_) {
      root.keys.emplace(key.public_key().KeyId(), key.public_key());
    }
    // root: 2 of keys 0..2; key 3 is in `keys` but listed for no role but timestamp.
    root.roles["root"] = KeyRole{{Id(0), Id(1), Id(2)}, 2, {}};
    root.roles["timestamp"] = KeyRole{{Id(3)}, 1, {}};
    root.roles["snapshot"] = KeyRole{{Id(3)}, 1, {}};
    root.roles["targets"] = KeyRole{{Id(3)}, 1, {}};
    metadata_ = MakeMetadata(std::move(root));
  }

  std::string Id(size_t i) const { return keys_[i].public_key().KeyId(); }

  Status Verify() const { return metadata_.role.VerifyDelegate("root", metadata_.envelope); }

  void ExpectUnsigned(std::string_view message) const {
    Status status = Verify();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kUnsignedMetadata);
    EXPECT_EQ(status.error().message(), message);
  }

  std::vector<crypto::PrivateKey> keys_;
  Metadata<Root> metadata_;
};

TEST_F(Threshold, MadeMetadataRoundTripsThroughBytes) {
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  auto parsed = ParseMetadata<Root>(metadata_.envelope.Serialize());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->envelope.signed_value, metadata_.envelope.signed_value);
  EXPECT_EQ(parsed->role.ToValue(), metadata_.role.ToValue());
  EXPECT_EQ(parsed->role.common.spec_version, kSpecVersion);
  ASSERT_EQ(parsed->envelope.signatures.size(), 1u);
  EXPECT_EQ(parsed->envelope.signatures[0].keyid, Id(0));
}

TEST_F(Threshold, OneOfTwoRequiredSignaturesFails) {
  ExpectUnsigned("\"root\": 0 of 2 required signatures are valid");
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  ExpectUnsigned("\"root\": 1 of 2 required signatures are valid");
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[2]));
  EXPECT_TRUE(Verify());
}

TEST_F(Threshold, KeysOfUnknownSchemesAreKeptButNeverCounted) {
  // A root signed elsewhere may list a key of a scheme we lack (python-tuf keeps such keys).
  json::Value future_key = json::Value::MakeObject(
      {{"keytype", "sphincs"},
       {"scheme", "sphincs-shake-256f"},
       {"keyval", json::Value::MakeObject({{"public", "00ff"}})}});
  crypto::PublicKey unknown = crypto::PublicKey::Unsupported(future_key);
  EXPECT_FALSE(unknown.is_supported());
  Root root = metadata_.role;
  root.keys.emplace(unknown.KeyId(), unknown);
  root.roles["root"] = KeyRole{{Id(0), Id(1), unknown.KeyId()}, 2, {}};
  metadata_ = MakeMetadata(std::move(root));
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  // A forged signature claiming the unknown key must not count.
  metadata_.envelope.signatures.push_back(Signature{unknown.KeyId(), std::string(128, 'a'), {}});

  auto parsed = ParseMetadata<Root>(metadata_.envelope.Serialize());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->role.ToValue(), metadata_.envelope.signed_value);
  auto it = parsed->role.keys.find(unknown.KeyId());
  ASSERT_NE(it, parsed->role.keys.end());
  EXPECT_FALSE(it->second.is_supported());
  Status status = parsed->role.VerifyDelegate("root", parsed->envelope);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind(), ErrorKind::kUnsignedMetadata);

  ASSERT_TRUE(Sign(metadata_.envelope, keys_[1]));
  parsed = ParseMetadata<Root>(metadata_.envelope.Serialize());
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_TRUE(parsed->role.VerifyDelegate("root", parsed->envelope));
}

TEST_F(Threshold, DuplicateSignaturesByOneKeyCountOnce) {
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  metadata_.envelope.signatures.push_back(metadata_.envelope.signatures[0]);
  metadata_.envelope.signatures.push_back(metadata_.envelope.signatures[0]);
  ExpectUnsigned("\"root\": 1 of 2 required signatures are valid");
}

TEST_F(Threshold, OneKeyListedUnderTwoKeyIdsCountsOnce) {
  const std::string alias(64, 'a');
  metadata_.role.keys.emplace(alias, keys_[0].public_key());
  metadata_.role.roles["root"].keyids.push_back(alias);
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  Signature copy = metadata_.envelope.signatures[0];
  copy.keyid = alias;
  metadata_.envelope.signatures.push_back(copy);
  ExpectUnsigned("\"root\": 1 of 2 required signatures are valid");
}

TEST_F(Threshold, SignatureByAnUnlistedKeyDoesNotCount) {
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[3]));  // in `keys`, but not a root key
  ExpectUnsigned("\"root\": 1 of 2 required signatures are valid");
  // ... though key 3 alone satisfies the timestamp role.
  EXPECT_TRUE(metadata_.role.VerifyDelegate("timestamp", metadata_.envelope));
}

TEST_F(Threshold, TamperedSignedBodyFails) {
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[1]));
  ASSERT_TRUE(Verify());
  metadata_.envelope.signed_value.Set("version", json::Value(2));
  ExpectUnsigned("\"root\": 0 of 2 required signatures are valid");
}

TEST_F(Threshold, MalformedOrWrongSignaturesAreIgnored) {
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  metadata_.envelope.signatures.push_back(Signature{Id(1), "not hex", {}});
  metadata_.envelope.signatures.push_back(Signature{Id(2), std::string(128, '0'), {}});
  metadata_.envelope.signatures.push_back(Signature{Id(2), "abc", {}});
  ExpectUnsigned("\"root\": 1 of 2 required signatures are valid");
  // A wrong signature for a keyid does not stop a later good one from counting.
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[2]));
  EXPECT_TRUE(Verify());
}

TEST_F(Threshold, SignReplacesTheSignatureOfTheSameKey) {
  metadata_.envelope.signatures.push_back(Signature{Id(0), std::string(128, '0'), {}});
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[1]));
  ASSERT_TRUE(Sign(metadata_.envelope, keys_[0]));
  ASSERT_EQ(metadata_.envelope.signatures.size(), 2u);
  EXPECT_EQ(metadata_.envelope.signatures[0].keyid, Id(0));
  EXPECT_EQ(metadata_.envelope.signatures[1].keyid, Id(1));
  EXPECT_TRUE(Verify());
}

TEST_F(Threshold, DelegatedRolesVerifyWithTheDelegatorsKeys) {
  Targets targets;
  targets.common.expires = ParseExpires("2036-01-01T00:00:00Z").value();
  Delegations delegations;
  delegations.keys.emplace(Id(0), keys_[0].public_key());
  delegations.keys.emplace(Id(1), keys_[1].public_key());
  DelegatedRole role;
  role.name = "product-a";
  role.keys = KeyRole{{Id(0), Id(1)}, 2, {}};
  role.paths = std::vector<std::string>{"product-a/*"};
  delegations.roles = std::vector<DelegatedRole>{role};
  targets.delegations = std::move(delegations);

  Targets delegated;
  delegated.common.expires = targets.common.expires;
  Metadata<Targets> product_a = MakeMetadata(std::move(delegated));
  ASSERT_TRUE(Sign(product_a.envelope, keys_[0]));
  auto one = targets.VerifyDelegate("product-a", product_a.envelope);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().message(), "\"product-a\": 1 of 2 required signatures are valid");
  ASSERT_TRUE(Sign(product_a.envelope, keys_[1]));
  EXPECT_TRUE(targets.VerifyDelegate("product-a", product_a.envelope));
  auto unknown = targets.VerifyDelegate("product-b", product_a.envelope);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind(), ErrorKind::kBadMetadata);

  // The typed model serializes to something FromValue accepts and reproduces.
  json::Value value = targets.ToValue();
  auto reparsed = Targets::FromValue(value);
  ASSERT_TRUE(reparsed) << reparsed.error().ToString();
  EXPECT_EQ(reparsed->ToValue(), value);
}

// ---------------------------------------------------------------------------------------------
// Path patterns.

bool Matches(std::string_view pattern, std::string_view path) {
  DelegatedRole role;
  role.paths = std::vector<std::string>{std::string(pattern)};
  return role.IsDelegatedPath(path);
}

TEST(Glob, StarMatchesWithinOneSegment) {
  EXPECT_TRUE(Matches("*", "file.bin"));
  EXPECT_TRUE(Matches("*", ""));
  EXPECT_FALSE(Matches("*", "dir/file.bin"));  // "*" does not match "/"
  EXPECT_TRUE(Matches("dir/*", "dir/file.bin"));
  EXPECT_FALSE(Matches("dir/*", "dir/sub/file.bin"));
  EXPECT_TRUE(Matches("*/*", "dir/file.bin"));
  EXPECT_TRUE(Matches("*.tar.gz", "app.tar.gz"));
  EXPECT_FALSE(Matches("*.tar.gz", "app.tar.gzip"));
  EXPECT_TRUE(Matches("a*b*c", "aXXbYYbZc"));
  EXPECT_FALSE(Matches("a*b*c", "aXXbYYbZ"));
  EXPECT_TRUE(Matches("**", "anything"));
}

TEST(Glob, QuestionMarkMatchesOneCharacter) {
  EXPECT_TRUE(Matches("pkg-?.bin", "pkg-1.bin"));
  EXPECT_FALSE(Matches("pkg-?.bin", "pkg-12.bin"));
  EXPECT_FALSE(Matches("pkg-?.bin", "pkg-.bin"));
  EXPECT_FALSE(Matches("a?b", "a/b"));
  EXPECT_TRUE(Matches("caf?", "caf\xc3\xa9"));  // one code point, two bytes
}

TEST(Glob, CharacterClasses) {
  EXPECT_TRUE(Matches("v[a-c].bin", "vb.bin"));
  EXPECT_FALSE(Matches("v[a-c].bin", "vd.bin"));
  EXPECT_TRUE(Matches("v[!a-c].bin", "vd.bin"));
  EXPECT_FALSE(Matches("v[!a-c].bin", "va.bin"));
  EXPECT_TRUE(Matches("v[xyz]", "vy"));
  EXPECT_TRUE(Matches("v[]]", "v]"));
  EXPECT_TRUE(Matches("v[", "v["));  // unclosed: literal
  EXPECT_FALSE(Matches("v[", "vx"));
  EXPECT_TRUE(Matches("[0-9][0-9]/*.bin", "42/x.bin"));
}

TEST(Glob, SegmentCountsMustBeEqual) {
  EXPECT_FALSE(Matches("a/b", "a/b/c"));
  EXPECT_FALSE(Matches("a/b/c", "a/b"));
  EXPECT_FALSE(Matches("*/*/*", "a/b"));
  EXPECT_TRUE(Matches("a/*/c", "a/b/c"));
  EXPECT_TRUE(Matches("a/b", "a/b"));
  EXPECT_FALSE(Matches("a/b", "a/B"));  // case-sensitive
}

TEST(PathHashPrefixes, MatchTheSha256OfThePath) {
  const std::string digest = crypto::Sha256Hex("bulk/pkg-00.bin");
  ASSERT_TRUE(digest.starts_with("d10d"));
  DelegatedRole role;
  role.path_hash_prefixes = std::vector<std::string>{"00", "d1"};
  EXPECT_TRUE(role.IsDelegatedPath("bulk/pkg-00.bin"));
  role.path_hash_prefixes = std::vector<std::string>{"d10d"};
  EXPECT_TRUE(role.IsDelegatedPath("bulk/pkg-00.bin"));
  role.path_hash_prefixes = std::vector<std::string>{"d10e", "0"};
  EXPECT_FALSE(role.IsDelegatedPath("bulk/pkg-00.bin"));
}

TEST(SuccinctRolesTest, NamesArePaddedToTheLargestIndex) {
  SuccinctRoles roles;
  roles.name_prefix = "b";
  roles.bit_length = 1;
  EXPECT_EQ(roles.RoleNames(), (std::vector<std::string>{"b-0", "b-1"}));
  roles.bit_length = 5;
  std::vector<std::string> names = roles.RoleNames();
  ASSERT_EQ(names.size(), 32u);
  EXPECT_EQ(names[0], "b-00");
  EXPECT_EQ(names[31], "b-1f");
  EXPECT_TRUE(roles.IsDelegatedRole("b-1f"));
  EXPECT_FALSE(roles.IsDelegatedRole("b-20"));
  EXPECT_FALSE(roles.IsDelegatedRole("b-f"));
  // bulk/pkg-00.bin hashes to d10d... = 0b11010 in its first five bits.
  EXPECT_EQ(roles.RoleForTarget("bulk/pkg-00.bin"), "b-1a");
  roles.bit_length = 8;
  EXPECT_EQ(roles.RoleForTarget("bulk/pkg-00.bin"), "b-d1");
}

// ---------------------------------------------------------------------------------------------

TEST(ValidateTargetPathTest, RejectsHostilePaths) {
  for (std::string_view bad :
       {"../x", "a/../x", "..", "/etc/passwd", "a//b", "a\\b", "a/./b", ".", "", "a/", "a/b/"}) {
    SCOPED_TRACE(bad);
    Status status = ValidateTargetPath(bad);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().kind(), ErrorKind::kInvalidArgument);
  }
  Status nul = ValidateTargetPath(std::string_view("a\0b", 3));
  ASSERT_FALSE(nul);
  EXPECT_THAT(nul.error().message(), HasSubstr("NUL"));
  for (std::string_view good : {"manifest.txt", "product-a/firmware-1.0.bin", "a/b/c.d", "..hidden",
                                "a/...", "caf\xc3\xa9.bin"}) {
    EXPECT_TRUE(ValidateTargetPath(good)) << good;
  }
}

// ---------------------------------------------------------------------------------------------
// Performance: a targets role with 100,000 entries. Printed, never asserted (wall time is not
// a test outcome); see BENCHMARKS.md for the measured numbers.

TEST(LargeTargets, HundredThousandTargetsParseAndRoundTrip) {
  constexpr int kCount = 100000;
  json::Object entries;
  entries.reserve(kCount);
  for (int i = 0; i < kCount; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "bulk/pkg-%06d.bin", i);
    const std::string sha256 = crypto::Sha256Hex(name);
    entries.emplace_back(
        name,
        json::Value::MakeObject(
            {{"length", json::Value(i)},
             {"hashes", json::Value::MakeObject({{"sha256", json::Value(sha256)},
                                                 {"sha512", json::Value(sha256 + sha256)}})}}));
  }
  json::Value signed_value = json::Value::MakeObject({
      {"_type", json::Value("targets")},
      {"spec_version", json::Value("1.0.31")},
      {"version", json::Value(7)},
      {"expires", json::Value("2036-01-01T00:00:00Z")},
      {"targets", json::Value::MakeObject(std::move(entries))},
  });
  const std::string bytes =
      json::Serialize(json::Value::MakeObject(
                          {{"signatures", json::Value(json::Array{})}, {"signed", signed_value}}),
                      1);

  const auto start = std::chrono::steady_clock::now();
  auto parsed = ParseMetadata<Targets>(bytes);
  const auto parsed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  auto typed_only = Targets::FromValue(parsed->envelope.signed_value);
  const auto typed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(typed_only);
  json::Value back = parsed->role.ToValue();
  const auto back_at = std::chrono::steady_clock::now();
  EXPECT_EQ(back, signed_value);
  EXPECT_EQ(parsed->role.targets.size(), static_cast<size_t>(kCount));
  EXPECT_EQ(parsed->role.targets.at("bulk/pkg-004242.bin").length, 4242);

  using Ms = std::chrono::duration<double, std::milli>;
  std::printf(
      "[ timing ] 100k targets, %zu bytes: bytes->typed %.1f ms (FromValue alone %.1f ms), "
      "ToValue %.1f ms\n",
      bytes.size(), Ms(parsed_at - start).count(), Ms(typed_at - parsed_at).count(),
      Ms(back_at - typed_at).count());
}

}  // namespace
}  // namespace mdu::metadata
