// The device state directory: round trip, atomic file, the monotonic security floor and its
// second copy, and clear errors for damaged files.
#include "client-agent/update/device_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/unit/agent/update_test_util.h"

namespace mdu::agent::update {
namespace {

namespace fs = std::filesystem;
using agent::testing::ReadFile;
using agent::testing::TempDir;
using agent::testing::WriteFile;

TargetRecord Target(std::string version, int64_t security_version) {
  return TargetRecord{.name = "pump/firmware-" + version + ".bin",
                      .version = version,
                      .sha256 = std::string(64, 'a'),
                      .security_version = security_version};
}

DeviceState FullState() {
  DeviceState state;
  state.installed = Installation{Target("2.0.0", 5), "b"};
  state.previous = Installation{Target("1.0.0", 3), "a"};
  state.security_floor = 5;
  state.pending = PendingInstall{.phase = Phase::kRollingBack,
                                 .target = Target("3.0.0", 6),
                                 .from_slot = "b",
                                 .to_slot = "a",
                                 .reason = Reason::kHealthCheckTimeout,
                                 .message = "check took too long"};
  state.last_result = LastResult{Outcome::kCommitted, Reason::kNone, "", Target("2.0.0", 5)};
  return state;
}

void ExpectSameState(const DeviceState& a, const DeviceState& b) {
  EXPECT_EQ(a.installed, b.installed);
  EXPECT_EQ(a.previous, b.previous);
  EXPECT_EQ(a.security_floor, b.security_floor);
  EXPECT_EQ(a.pending, b.pending);
  EXPECT_EQ(a.last_result, b.last_result);
}

TEST(DeviceStateTest, EmptyDirectoryLoadsEmptyState) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path() / "state");
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE(fs::is_directory(tmp.path() / "state"));
  Result<DeviceState> state = store->Load();
  ASSERT_TRUE(state) << state.error().ToString();
  EXPECT_FALSE(state->installed);
  EXPECT_FALSE(state->pending);
  EXPECT_FALSE(state->last_result);
  EXPECT_EQ(state->security_floor, 0);
  EXPECT_FALSE(state->floor_restored);
}

TEST(DeviceStateTest, SaveAndLoadRoundTripEveryField) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  const DeviceState saved = FullState();
  ASSERT_TRUE(store->Save(saved));
  Result<DeviceState> loaded = store->Load();
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ExpectSameState(*loaded, saved);
  EXPECT_FALSE(loaded->floor_restored);
  // Only the two state files, no temporary leftovers.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path())) {
    ++files;
    const std::string name = entry.path().filename();
    EXPECT_TRUE(name == "state.json" || name == "security_floor") << name;
  }
  EXPECT_EQ(files, 2);
  EXPECT_EQ(ReadFile(tmp.path() / "security_floor"), "5\n");
}

TEST(DeviceStateTest, EveryPhaseAndReasonRoundTrips) {
  for (Phase phase : {Phase::kStaged, Phase::kInstalling, Phase::kActivated, Phase::kRollingBack,
                      Phase::kCommitted}) {
    ASSERT_EQ(PhaseFromName(PhaseName(phase)), phase);
  }
  for (int i = 0; i <= static_cast<int>(Reason::kManualRollback); ++i) {
    const auto reason = static_cast<Reason>(i);
    ASSERT_NE(ReasonName(reason), "unknown");
    ASSERT_EQ(ReasonFromName(ReasonName(reason)), reason);
  }
  EXPECT_FALSE(ReasonFromName("no_such_reason"));
}

TEST(DeviceStateTest, RefusesToLowerTheSecurityFloor) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  DeviceState state;
  state.security_floor = 7;
  ASSERT_TRUE(store->Save(state));
  const std::string before = ReadFile(tmp.path() / "state.json");

  state.security_floor = 6;
  state.last_result = LastResult{Outcome::kRefused, Reason::kSecurityFloor, "x", Target("1", 1)};
  Status lowered = store->Save(state);
  ASSERT_FALSE(lowered);
  EXPECT_EQ(lowered.error().kind(), ErrorKind::kPolicy);
  EXPECT_EQ(ReadFile(tmp.path() / "state.json"), before);  // nothing written

  state.security_floor = 9;
  ASSERT_TRUE(store->Save(state));
  EXPECT_EQ(store->Load()->security_floor, 9);
}

TEST(DeviceStateTest, FloorEditedLowerInStateJsonIsRestoredFromSecondCopy) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  DeviceState state = FullState();
  state.security_floor = 8;
  ASSERT_TRUE(store->Save(state));
  state.security_floor = 1;
  WriteFile(tmp.path() / "state.json", SerializeState(state));  // an edit behind our back

  Result<DeviceState> loaded = store->Load();
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->security_floor, 8);
  EXPECT_TRUE(loaded->floor_restored);
  // And Save keeps refusing the edited value.
  EXPECT_EQ(store->Save(state).error().kind(), ErrorKind::kPolicy);
}

TEST(DeviceStateTest, DeletedStateJsonKeepsTheFloor) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  DeviceState state;
  state.security_floor = 4;
  ASSERT_TRUE(store->Save(state));
  fs::remove(tmp.path() / "state.json");
  Result<DeviceState> loaded = store->Load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->security_floor, 4);
}

TEST(DeviceStateTest, CrashBetweenTheTwoWritesIsNotTampering) {
  // state.json is written first; a crash before the copy leaves the copy lower: not an alarm.
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  DeviceState state;
  state.security_floor = 3;
  ASSERT_TRUE(store->Save(state));
  state.security_floor = 5;
  WriteFile(tmp.path() / "state.json", SerializeState(state));
  Result<DeviceState> loaded = store->Load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->security_floor, 5);
  EXPECT_FALSE(loaded->floor_restored);
}

TEST(DeviceStateTest, DamagedFilesGiveClearErrors) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);

  WriteFile(tmp.path() / "state.json", "{\"format\": 1, \"security_floor\": ");
  Result<DeviceState> truncated = store->Load();
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_NE(truncated.error().message().find("state.json"), std::string::npos);

  WriteFile(tmp.path() / "state.json", "{\"format\": 1, \"security_floor\": \"9\"}");
  Result<DeviceState> wrong_type = store->Load();
  ASSERT_FALSE(wrong_type);
  EXPECT_EQ(wrong_type.error().kind(), ErrorKind::kBadMetadata);
  EXPECT_NE(wrong_type.error().message().find("security_floor"), std::string::npos);

  DeviceState state = FullState();
  std::string text = SerializeState(state);
  text.replace(text.find("rolling_back"), 12, "half_done");
  WriteFile(tmp.path() / "state.json", text);
  Result<DeviceState> bad_phase = store->Load();
  ASSERT_FALSE(bad_phase);
  EXPECT_NE(bad_phase.error().message().find("half_done"), std::string::npos);

  WriteFile(tmp.path() / "state.json", "{\"format\": 2, \"security_floor\": 0}");
  EXPECT_EQ(store->Load().error().kind(), ErrorKind::kBadMetadata);

  fs::remove(tmp.path() / "state.json");
  WriteFile(tmp.path() / "security_floor", "-3\n");
  Result<DeviceState> bad_floor = store->Load();
  ASSERT_FALSE(bad_floor);
  EXPECT_NE(bad_floor.error().message().find("security_floor"), std::string::npos);
}

TEST(DeviceStateTest, SbomReferenceSurvivesTheRoundTrip) {
  TempDir tmp;
  Result<StateStore> store = StateStore::Open(tmp.path());
  ASSERT_TRUE(store);
  DeviceState state = FullState();
  state.installed->target.sbom_name = "pump/firmware-2.0.0.bin.sbom.json";
  state.installed->target.sbom_sha256 = std::string(64, 'd');
  ASSERT_TRUE(store->Save(state));
  Result<DeviceState> loaded = store->Load();
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  ExpectSameState(state, *loaded);
  EXPECT_EQ(loaded->installed->target.sbom_sha256, std::string(64, 'd'));
  // Records without a reference write no "sbom" at all.
  EXPECT_EQ(ReadFile(tmp.path() / StateStore::kStateFile).find("\"sbom\""),
            ReadFile(tmp.path() / StateStore::kStateFile).rfind("\"sbom\""));
}

TEST(DeviceStateTest, StateWithoutSbomFieldsStillLoads) {
  // state.json as agents wrote it before the SBOM reference existed.
  Result<DeviceState> state = ParseState(R"({"format": 1, "security_floor": 3,
    "installed": {"slot": "a", "target": {"name": "fw.bin", "version": "1.0",
                  "sha256": "ab", "security_version": 3}},
    "previous": null, "pending": null, "last_result": null})");
  ASSERT_TRUE(state) << state.error().ToString();
  ASSERT_TRUE(state->installed);
  EXPECT_EQ(state->installed->target.version, "1.0");
  EXPECT_TRUE(state->installed->target.sbom_name.empty());
  EXPECT_TRUE(state->installed->target.sbom_sha256.empty());
}

TEST(DeviceStateTest, MalformedSbomReferenceIsAnError) {
  Result<DeviceState> state = ParseState(R"({"format": 1, "security_floor": 0,
    "installed": {"slot": "a", "target": {"name": "fw.bin", "version": "1.0", "sha256": "ab",
                  "security_version": 0, "sbom": {"name": 7, "sha256": "x"}}}})");
  ASSERT_FALSE(state);
  EXPECT_NE(state.error().message().find("state.installed.target.sbom"), std::string::npos)
      << state.error().message();
}

TEST(DeviceStateTest, SbomReferenceIsTakenFromTheSignedCustomMetadata) {
  TargetRecord record = Target("2.0.0", 1);
  const std::string sha(64, 'e');
  AttachSbomReference(json::Value::MakeObject(
                          {{"version", "2.0.0"},
                           {"sbom", json::Value::MakeObject(
                                        {{"name", "fw.sbom.json"}, {"sha256", sha}})}}),
                      record);
  EXPECT_EQ(record.sbom_name, "fw.sbom.json");
  EXPECT_EQ(record.sbom_sha256, sha);
  // Malformed references are not recorded (sbom refuses them too).
  for (const json::Value& bad :
       {json::Value::MakeObject({{"version", "2.0.0"}}),
        json::Value::MakeObject({{"sbom", "fw.sbom.json"}}),
        json::Value::MakeObject(
            {{"sbom", json::Value::MakeObject({{"name", "fw.sbom.json"}, {"sha256", "ABC"}})}}),
        json::Value::MakeObject(
            {{"sbom", json::Value::MakeObject({{"name", ""}, {"sha256", sha}})}})}) {
    AttachSbomReference(bad, record);
    EXPECT_TRUE(record.sbom_name.empty());
    EXPECT_TRUE(record.sbom_sha256.empty());
  }
}

}  // namespace
}  // namespace mdu::agent::update
