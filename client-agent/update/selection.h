// Target selection (issue 5, "Select a target for this device"): pure functions over the
// device's facts and the candidate targets' signed `custom` metadata. No I/O, no clock.
//
// Custom metadata read (as the signer writes it):
//   version                string, dotted numeric ("3.0.10"), required
//   hardware_ids           non-empty array of strings, required
//   min_installed_version  string, optional: the oldest installed version it can update from
//   security_version       integer >= 0, optional (0 when absent)
//   allow_downgrade        boolean, optional (false): this older target may replace a newer one
//
// Rules, each with its reason code:
//   hardware id not listed                                      kHardwareMismatch
//   security_version below the device's floor                   kSecurityFloor (kPolicy)
//   version equal to the installed one                          kNotNewer
//   version below installed, allow_downgrade not true           kDowngrade
//   installed version below min_installed_version               kIncompatibleVersion
//   custom missing or malformed                                 kBadCustomMetadata
// A device with nothing installed counts as version "0". Among the eligible candidates the
// highest version wins (ties: higher security_version, then the smaller name, so the choice is
// deterministic).
//
// Thread-safety: pure functions.
#ifndef MDU_CLIENT_AGENT_UPDATE_SELECTION_H_
#define MDU_CLIENT_AGENT_UPDATE_SELECTION_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client-agent/update/device_state.h"
#include "client-agent/update/reason.h"
#include "core/common/error.h"
#include "core/json/value.h"
#include "core/metadata/metadata.h"

namespace mdu::agent::update {

// A dotted numeric version: "1.10.0" -> {1, 10, 0}. Trailing zero components do not matter
// ("1.2" == "1.2.0"). kInvalidArgument for anything else (empty, "1..2", "v1", "1.-2", overflow).
Result<std::vector<uint64_t>> ParseVersion(std::string_view text);
// -1, 0, 1 like a three-way comparison; errors as ParseVersion.
Result<int> CompareVersions(std::string_view a, std::string_view b);

struct TargetCustom {
  std::string version;
  std::vector<std::string> hardware_ids;
  std::optional<std::string> min_installed_version;
  int64_t security_version = 0;
  bool allow_downgrade = false;
};

// kBadMetadata naming the field when `custom` does not follow the format above.
Result<TargetCustom> ParseTargetCustom(const json::Value& custom);

struct DeviceFacts {
  std::string hardware_id;
  std::string installed_version;  // "" when nothing is installed
  int64_t security_floor = 0;
};

struct Candidate {
  std::string name;  // target path
  metadata::TargetFile file;
};

struct Rejection {
  std::string name;
  Reason reason = Reason::kNone;
  std::string message;
};

struct Selected {
  std::string name;
  TargetCustom custom;
  TargetRecord record;  // name, version, sha256 ("" if the metadata lists none), security_version
};

struct SelectionResult {
  std::optional<Selected> selected;  // empty: no eligible candidate (see `rejected`)
  std::vector<Rejection> rejected;   // every candidate that was not eligible, with its reason
};

// One candidate against the rules: empty when eligible.
std::optional<Rejection> CheckEligibility(const DeviceFacts& device, std::string_view name,
                                          const TargetCustom& custom);

// kInvalidArgument only when the device's installed_version itself is not a valid version;
// ineligible candidates are results, not errors.
Result<SelectionResult> SelectTarget(const DeviceFacts& device,
                                     std::span<const Candidate> candidates);

}  // namespace mdu::agent::update

#endif  // MDU_CLIENT_AGENT_UPDATE_SELECTION_H_
