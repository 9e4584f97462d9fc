#include "client-agent/update/selection.h"

#include <limits>
#include <utility>

namespace mdu::agent::update {
namespace {

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

}  // namespace

Result<std::vector<uint64_t>> ParseVersion(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "version " + Quote(text) + " is not dotted numeric: " + std::string(why));
  };
  if (text.empty()) return bad("empty");
  std::vector<uint64_t> parts;
  uint64_t current = 0;
  bool have_digit = false;
  for (char c : text) {
    if (c == '.') {
      if (!have_digit) return bad("empty component");
      parts.push_back(current);
      current = 0;
      have_digit = false;
    } else if (c >= '0' && c <= '9') {
      const auto digit = static_cast<uint64_t>(c - '0');
      if (current > (std::numeric_limits<uint64_t>::max() - digit) / 10) return bad("too large");
      current = current * 10 + digit;
      have_digit = true;
    } else {
      return bad("unexpected character");
    }
  }
  if (!have_digit) return bad("empty component");
  parts.push_back(current);
  while (parts.size() > 1 && parts.back() == 0) parts.pop_back();
  return parts;
}

Result<int> CompareVersions(std::string_view a, std::string_view b) {
  MDU_ASSIGN_OR_RETURN(std::vector<uint64_t> va, ParseVersion(a));
  MDU_ASSIGN_OR_RETURN(std::vector<uint64_t> vb, ParseVersion(b));
  if (va < vb) return -1;
  if (vb < va) return 1;
  return 0;
}

Result<TargetCustom> ParseTargetCustom(const json::Value& custom) {
  if (!custom.is_object()) {
    return MakeError(ErrorKind::kBadMetadata,
                     "custom metadata missing (need version, hardware_ids)");
  }
  TargetCustom out;
  MDU_ASSIGN_OR_RETURN(out.version, json::RequireString(custom, "version", "custom"));
  Result<std::vector<uint64_t>> version = ParseVersion(out.version);
  if (!version) return MakeError(ErrorKind::kBadMetadata, "custom: " + version.error().message());
  MDU_ASSIGN_OR_RETURN(const json::Value* ids,
                       json::RequireField(custom, "hardware_ids", json::Type::kArray, "custom"));
  for (const json::Value& id : ids->as_array()) {
    if (!id.is_string() || id.as_string().empty()) {
      return MakeError(ErrorKind::kBadMetadata, "custom: hardware_ids must hold non-empty strings");
    }
    out.hardware_ids.push_back(id.as_string());
  }
  if (out.hardware_ids.empty()) {
    return MakeError(ErrorKind::kBadMetadata, "custom: hardware_ids is empty");
  }
  if (custom.Find("min_installed_version") != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.min_installed_version,
                         json::RequireString(custom, "min_installed_version", "custom"));
    Result<std::vector<uint64_t>> min = ParseVersion(*out.min_installed_version);
    if (!min) return MakeError(ErrorKind::kBadMetadata, "custom: " + min.error().message());
  }
  if (custom.Find("security_version") != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.security_version,
                         json::RequireInt(custom, "security_version", "custom"));
    if (out.security_version < 0) {
      return MakeError(ErrorKind::kBadMetadata, "custom: security_version must be >= 0");
    }
  }
  if (custom.Find("allow_downgrade") != nullptr) {
    MDU_ASSIGN_OR_RETURN(out.allow_downgrade,
                         json::RequireBool(custom, "allow_downgrade", "custom"));
  }
  return out;
}

std::optional<Rejection> CheckEligibility(const DeviceFacts& device, std::string_view name,
                                          const TargetCustom& custom) {
  auto reject = [&](Reason reason, std::string message) {
    return Rejection{std::string(name), reason, std::move(message)};
  };
  bool hardware_ok = false;
  for (const std::string& id : custom.hardware_ids)
    hardware_ok = hardware_ok || id == device.hardware_id;
  if (!hardware_ok) {
    return reject(Reason::kHardwareMismatch,
                  "target does not list hardware id " + Quote(device.hardware_id));
  }
  // Rollback protection: never below the highest security version ever installed, whatever
  // the version number or allow_downgrade says.
  if (custom.security_version < device.security_floor) {
    return reject(Reason::kSecurityFloor,
                  "security_version " + std::to_string(custom.security_version) +
                      " is below the device's floor " + std::to_string(device.security_floor));
  }
  const std::string installed =
      device.installed_version.empty() ? std::string("0") : device.installed_version;
  Result<int> order = CompareVersions(custom.version, installed);
  if (!order) return reject(Reason::kBadCustomMetadata, order.error().message());
  if (*order == 0) return reject(Reason::kNotNewer, "version " + custom.version + " is installed");
  if (*order < 0 && !custom.allow_downgrade) {
    return reject(Reason::kDowngrade, "version " + custom.version + " is older than installed " +
                                          installed +
                                          " and its metadata does not allow a downgrade");
  }
  if (custom.min_installed_version) {
    Result<int> from = CompareVersions(installed, *custom.min_installed_version);
    if (!from) return reject(Reason::kBadCustomMetadata, from.error().message());
    if (*from < 0) {
      return reject(Reason::kIncompatibleVersion, "installed version " + installed +
                                                      " is below min_installed_version " +
                                                      *custom.min_installed_version);
    }
  }
  return std::nullopt;
}

Result<SelectionResult> SelectTarget(const DeviceFacts& device,
                                     std::span<const Candidate> candidates) {
  if (!device.installed_version.empty()) {
    MDU_RETURN_IF_ERROR(ParseVersion(device.installed_version));
  }
  SelectionResult result;
  std::optional<std::vector<uint64_t>> best_version;
  for (const Candidate& candidate : candidates) {
    Result<TargetCustom> custom = ParseTargetCustom(candidate.file.custom);
    if (!custom) {
      result.rejected.push_back(
          {candidate.name, Reason::kBadCustomMetadata, custom.error().message()});
      continue;
    }
    if (std::optional<Rejection> rejection = CheckEligibility(device, candidate.name, *custom)) {
      result.rejected.push_back(std::move(*rejection));
      continue;
    }
    std::vector<uint64_t> version = *ParseVersion(custom->version);  // validated by the parser
    bool better = !best_version || version > *best_version;
    if (best_version && version == *best_version) {
      const Selected& current = *result.selected;
      better = custom->security_version > current.custom.security_version ||
               (custom->security_version == current.custom.security_version &&
                candidate.name < current.name);
    }
    if (!better) continue;
    best_version = version;
    std::optional<std::string_view> sha = candidate.file.Sha256();
    TargetRecord record{.name = candidate.name,
                        .version = custom->version,
                        .sha256 = sha ? std::string(*sha) : std::string(),
                        .security_version = custom->security_version};
    result.selected = Selected{candidate.name, std::move(*custom), std::move(record)};
  }
  return result;
}

}  // namespace mdu::agent::update
