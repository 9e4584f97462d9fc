// Device state of the update flow: what is installed, the security-version floor, the
// transaction in progress and the last result. Kept in a state directory:
//
//   state.json       everything below, standard JSON, written atomically (io::WriteFileAtomically:
//                    temp file, fsync, rename, fsync directory), so after kill -9 or power loss
//                    it holds either the complete old or the complete new state.
//   security_floor   the floor again, as a decimal number, written atomically after state.json.
//
// The floor (highest security_version ever installed) never decreases. Save() refuses, with
// kPolicy, any state whose floor is below the one on disk. Load() takes the larger of the two
// copies: a crash between the two writes leaves security_floor lower (state.json wins, as it
// should), and an edit of state.json that lowers the floor is undone by the second copy and
// reported (DeviceState::floor_restored) as a security event candidate. An attacker who can
// edit both files can lower it; that needs a protected store (TPM/RPMB counter) on real devices.
//
// Errors: kIo for file system errors, kBadMetadata for a state.json that does not parse or has
// wrong field types (message names the field), kPolicy for a floor decrease.
// Thread-safety: none; one agent process owns a state directory at a time.
#ifndef MDU_CLIENT_AGENT_UPDATE_DEVICE_STATE_H_
#define MDU_CLIENT_AGENT_UPDATE_DEVICE_STATE_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "client-agent/update/reason.h"
#include "core/common/error.h"
#include "core/json/value.h"

namespace mdu::agent::update {

// A target as the update flow records it (from its signed metadata).
struct TargetRecord {
  std::string name;     // target path, e.g. "pump/firmware-3.0.0.bin"
  std::string version;  // custom.version
  std::string sha256;   // hex digest of the payload
  int64_t security_version = 0;
  // The release's SBOM as its signed custom metadata names it (custom.sbom = {"name", "sha256"},
  // signer add-target --sbom); both empty when it references none. Stored as "sbom" in
  // state.json only when set, so state files written before the field existed still load.
  std::string sbom_name{};  // (initializers: designated-initializer users may omit them)
  std::string sbom_sha256{};

  friend bool operator==(const TargetRecord&, const TargetRecord&) = default;
};

// Fills record.sbom_name/sbom_sha256 from a target's signed `custom` metadata when it holds a
// well-formed reference ({"name": non-empty string, "sha256": 64 lowercase hex}); leaves them
// empty otherwise (the reference is informational here: `sbom` verifies it before use).
void AttachSbomReference(const json::Value& custom, TargetRecord& record);

struct Installation {
  TargetRecord target;
  std::string slot;  // installer slot name ("a", "b")

  friend bool operator==(const Installation&, const Installation&) = default;
};

// Phases of a transaction, in order. Each is persisted before the work that follows it.
enum class Phase {
  kStaged,       // verified payload in the staging area, nothing touched
  kInstalling,   // writing the inactive slot (the active one may already be switched)
  kActivated,    // switched to the new slot; health check pending
  kRollingBack,  // switching back to from_slot (reason recorded)
  kCommitted,    // new slot is the installation, floor raised; installer commit pending
};
std::string_view PhaseName(Phase phase);  // "staged", "installing", ...
std::optional<Phase> PhaseFromName(std::string_view name);

struct PendingInstall {
  Phase phase = Phase::kStaged;
  TargetRecord target;
  std::string from_slot;          // the active slot before the transaction ("" when none)
  std::string to_slot;            // the slot being installed
  Reason reason = Reason::kNone;  // set in kRollingBack
  std::string message;            // detail for the reason

  friend bool operator==(const PendingInstall&, const PendingInstall&) = default;
};

enum class Outcome { kCommitted, kRolledBack, kRefused };
std::string_view OutcomeName(Outcome outcome);  // "committed", "rolled_back", "refused"

struct LastResult {
  Outcome outcome = Outcome::kCommitted;
  Reason reason = Reason::kNone;
  std::string message;
  TargetRecord target;  // the target the transaction was about

  friend bool operator==(const LastResult&, const LastResult&) = default;
};

struct DeviceState {
  std::optional<Installation> installed;
  std::optional<Installation> previous;  // the installation kept in the other slot
  int64_t security_floor = 0;
  std::optional<PendingInstall> pending;
  std::optional<LastResult> last_result;

  // Not persisted: Load() found state.json's floor below the second copy and restored it.
  bool floor_restored = false;
};

// The state directory. Cheap to copy (a path).
class StateStore {
 public:
  static constexpr std::string_view kStateFile = "state.json";
  static constexpr std::string_view kFloorFile = "security_floor";

  // Creates `directory` if needed; kIo on failure.
  static Result<StateStore> Open(std::filesystem::path directory);

  // The stored state; an empty DeviceState (floor 0) when nothing was saved yet.
  Result<DeviceState> Load() const;

  // Persists `state` atomically. kPolicy (nothing written) if state.security_floor is below the
  // floor currently on disk.
  Status Save(const DeviceState& state);

  const std::filesystem::path& directory() const { return directory_; }

 private:
  explicit StateStore(std::filesystem::path directory) : directory_(std::move(directory)) {}
  Result<int64_t> LoadFloorCopy() const;

  std::filesystem::path directory_;
};

// JSON form of the state (the content of state.json), exposed for status output and tests.
std::string SerializeState(const DeviceState& state);
Result<DeviceState> ParseState(std::string_view bytes);

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_DEVICE_STATE_H_
