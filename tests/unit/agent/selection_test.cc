// Target selection, one test per rule: dotted numeric versions, hardware id, downgrade (and
// the signed allow_downgrade), min_installed_version, the security floor, malformed custom.
#include "client-agent/update/selection.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mdu::agent::update {
namespace {

using json::Value;

Candidate Make(std::string version, Value custom_extra = Value::EmptyObject(),
               std::string hw = "pump-x1") {
  Value custom = Value::MakeObject(
      {{"version", version}, {"hardware_ids", json::Array{Value(hw), Value("pump-x2")}}});
  for (const auto& [key, value] : custom_extra.as_object()) custom.Set(key, value);
  Candidate candidate;
  candidate.name = "pump/firmware-" + version + ".bin";
  candidate.file.length = 10;
  candidate.file.hashes = {{"sha256", std::string(64, 'b')}};
  candidate.file.custom = std::move(custom);
  return candidate;
}

DeviceFacts Device(std::string installed = "2.0.0", int64_t floor = 0) {
  return DeviceFacts{"pump-x1", std::move(installed), floor};
}

SelectionResult Select(const DeviceFacts& device, const std::vector<Candidate>& candidates) {
  Result<SelectionResult> result = SelectTarget(device, candidates);
  EXPECT_TRUE(result) << result.error().ToString();
  return result ? *result : SelectionResult{};
}

Reason OnlyRejection(const SelectionResult& result) {
  EXPECT_FALSE(result.selected);
  EXPECT_EQ(result.rejected.size(), 1u);
  return result.rejected.empty() ? Reason::kNone : result.rejected.front().reason;
}

TEST(VersionTest, ComparesDottedNumerically) {
  EXPECT_EQ(*CompareVersions("1.10", "1.9"), 1);
  EXPECT_EQ(*CompareVersions("1.9", "1.10"), -1);
  EXPECT_EQ(*CompareVersions("1.2", "1.2.0"), 0);
  EXPECT_EQ(*CompareVersions("2", "1.99.99"), 1);
  EXPECT_EQ(*CompareVersions("0.0.1", "0"), 1);
  EXPECT_EQ(*CompareVersions("010", "10"), 0);
}

TEST(VersionTest, RejectsNonNumericVersions) {
  for (const char* bad :
       {"", "1..2", ".1", "1.", "v1", "1.-2", "1.2-rc1", "1 2", "99999999999999999999999"}) {
    Result<std::vector<uint64_t>> parsed = ParseVersion(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(SelectionTest, PicksTheNewestEligible) {
  SelectionResult result =
      Select(Device("1.9"), {Make("1.10"), Make("1.9.5"), Make("1.11"), Make("1.2")});
  ASSERT_TRUE(result.selected);
  EXPECT_EQ(result.selected->name, "pump/firmware-1.11.bin");
  EXPECT_EQ(result.selected->record.version, "1.11");
  EXPECT_EQ(result.selected->record.sha256, std::string(64, 'b'));
  // 1.2 is a refused downgrade; the others were eligible but older than 1.11.
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].reason, Reason::kDowngrade);
}

TEST(SelectionTest, RejectsOtherHardware) {
  EXPECT_EQ(OnlyRejection(Select(Device(), {Make("3.0", Value::EmptyObject(), "monitor-b")})),
            Reason::kHardwareMismatch);
  Candidate only_other = Make("3.0");
  only_other.file.custom.Set("hardware_ids", json::Array{Value("monitor-b")});
  EXPECT_EQ(OnlyRejection(Select(Device(), {only_other})), Reason::kHardwareMismatch);
}

TEST(SelectionTest, RejectsTheInstalledVersion) {
  EXPECT_EQ(OnlyRejection(Select(Device("2.0.0"), {Make("2.0")})), Reason::kNotNewer);
}

TEST(SelectionTest, RejectsDowngradeUnlessSignedMetadataAllowsIt) {
  EXPECT_EQ(OnlyRejection(Select(Device("2.0.0"), {Make("1.9")})), Reason::kDowngrade);
  EXPECT_EQ(OnlyRejection(Select(Device("2.0.0"),
                                 {Make("1.9", Value::MakeObject({{"allow_downgrade", false}}))})),
            Reason::kDowngrade);
  SelectionResult allowed =
      Select(Device("2.0.0"), {Make("1.9", Value::MakeObject({{"allow_downgrade", true}}))});
  ASSERT_TRUE(allowed.selected);
  EXPECT_EQ(allowed.selected->record.version, "1.9");
}

TEST(SelectionTest, AllowedDowngradeStillRespectsTheSecurityFloor) {
  EXPECT_EQ(
      OnlyRejection(Select(
          Device("2.0.0", 5),
          {Make("1.9", Value::MakeObject({{"allow_downgrade", true}, {"security_version", 4}}))})),
      Reason::kSecurityFloor);
}

TEST(SelectionTest, RejectsSecurityVersionBelowTheFloor) {
  SelectionResult result =
      Select(Device("2.0.0", 7), {Make("3.0", Value::MakeObject({{"security_version", 6}})),
                                  Make("2.5", Value::MakeObject({{"security_version", 7}}))});
  ASSERT_TRUE(result.selected);
  EXPECT_EQ(result.selected->record.version, "2.5");  // the newer one is below the floor
  EXPECT_EQ(result.selected->record.security_version, 7);
  ASSERT_EQ(result.rejected.size(), 1u);
  EXPECT_EQ(result.rejected[0].reason, Reason::kSecurityFloor);
  EXPECT_NE(result.rejected[0].message.find("floor 7"), std::string::npos);
  // Absent security_version means 0, which is below any positive floor.
  EXPECT_EQ(OnlyRejection(Select(Device("2.0.0", 1), {Make("3.0")})), Reason::kSecurityFloor);
}

TEST(SelectionTest, RejectsIncompatibleInstalledVersion) {
  Value min = Value::MakeObject({{"min_installed_version", "2.4"}});
  EXPECT_EQ(OnlyRejection(Select(Device("2.3.9"), {Make("3.0", min)})),
            Reason::kIncompatibleVersion);
  EXPECT_TRUE(Select(Device("2.4"), {Make("3.0", min)}).selected);
  EXPECT_TRUE(Select(Device("2.10"), {Make("3.0", min)}).selected);
  // A device with nothing installed counts as version 0.
  EXPECT_EQ(OnlyRejection(Select(Device(""), {Make("3.0", min)})), Reason::kIncompatibleVersion);
  EXPECT_TRUE(Select(Device(""), {Make("3.0")}).selected);
}

TEST(SelectionTest, RejectsMalformedCustomMetadata) {
  std::vector<Candidate> bad(6, Make("3.0"));
  bad[0].file.custom = Value();
  bad[1].file.custom.Set("version", 3);
  bad[2].file.custom.Set("version", "3.0-beta");
  bad[3].file.custom.Set("hardware_ids", json::Array{});
  bad[4].file.custom.Set("security_version", -1);
  bad[5].file.custom.Set("allow_downgrade", "yes");
  SelectionResult result = Select(Device(), bad);
  EXPECT_FALSE(result.selected);
  ASSERT_EQ(result.rejected.size(), bad.size());
  for (const Rejection& rejection : result.rejected) {
    EXPECT_EQ(rejection.reason, Reason::kBadCustomMetadata) << rejection.message;
    EXPECT_FALSE(rejection.message.empty());
  }
}

TEST(SelectionTest, TieOnVersionPrefersHigherSecurityVersion) {
  Candidate low = Make("3.0", Value::MakeObject({{"security_version", 1}}));
  Candidate high = Make("3.0.0", Value::MakeObject({{"security_version", 2}}));
  high.name = "z-high";
  SelectionResult result = Select(Device(), {low, high});
  ASSERT_TRUE(result.selected);
  EXPECT_EQ(result.selected->name, "z-high");
}

TEST(SelectionTest, InvalidInstalledVersionIsAnError) {
  Result<SelectionResult> result =
      SelectTarget(DeviceFacts{"pump-x1", "two", 0}, std::vector<Candidate>{Make("3.0")});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace mdu::agent::update
