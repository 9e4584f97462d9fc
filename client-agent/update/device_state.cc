#include "client-agent/update/device_state.h"

#include <algorithm>
#include <charconv>
#include <system_error>
#include <utility>

#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::agent::update {
namespace {

constexpr int64_t kFormat = 1;
constexpr uint64_t kMaxStateBytes = 1 << 20;

json::Value TargetToValue(const TargetRecord& t) {
  json::Value value = json::Value::MakeObject({{"name", t.name},
                                               {"version", t.version},
                                               {"sha256", t.sha256},
                                               {"security_version", t.security_version}});
  if (!t.sbom_name.empty() || !t.sbom_sha256.empty()) {
    value.Set("sbom", json::Value::MakeObject({{"name", t.sbom_name}, {"sha256", t.sbom_sha256}}));
  }
  return value;
}

bool IsSha256Hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

json::Value InstallationToValue(const Installation& i) {
  return json::Value::MakeObject({{"target", TargetToValue(i.target)}, {"slot", i.slot}});
}

Result<TargetRecord> TargetFromValue(const json::Value& v, std::string_view where) {
  TargetRecord t;
  MDU_ASSIGN_OR_RETURN(t.name, json::RequireString(v, "name", where));
  MDU_ASSIGN_OR_RETURN(t.version, json::RequireString(v, "version", where));
  MDU_ASSIGN_OR_RETURN(t.sha256, json::RequireString(v, "sha256", where));
  MDU_ASSIGN_OR_RETURN(t.security_version, json::RequireInt(v, "security_version", where));
  // Optional: state files of agents before the SBOM reference have no "sbom".
  if (const json::Value* sbom = v.Find("sbom"); sbom != nullptr && !sbom->is_null()) {
    const std::string sbom_where = std::string(where) + ".sbom";
    if (!sbom->is_object()) {
      return MakeError(ErrorKind::kBadMetadata, sbom_where + ": must be an object");
    }
    MDU_ASSIGN_OR_RETURN(t.sbom_name, json::RequireString(*sbom, "name", sbom_where));
    MDU_ASSIGN_OR_RETURN(t.sbom_sha256, json::RequireString(*sbom, "sha256", sbom_where));
  }
  return t;
}

Result<Installation> InstallationFromValue(const json::Value& v, std::string_view where) {
  Installation i;
  MDU_ASSIGN_OR_RETURN(const json::Value* target,
                       json::RequireField(v, "target", json::Type::kObject, where));
  MDU_ASSIGN_OR_RETURN(i.target, TargetFromValue(*target, std::string(where) + ".target"));
  MDU_ASSIGN_OR_RETURN(i.slot, json::RequireString(v, "slot", where));
  return i;
}

Result<Reason> ReasonField(const json::Value& v, std::string_view where) {
  MDU_ASSIGN_OR_RETURN(std::string name, json::RequireString(v, "reason", where));
  std::optional<Reason> reason = ReasonFromName(name);
  if (!reason) {
    return MakeError(ErrorKind::kBadMetadata,
                     std::string(where) + ": unknown reason \"" + name + "\"");
  }
  return *reason;
}

// An optional object member: null pointer when absent or JSON null.
Result<const json::Value*> OptionalObject(const json::Value& v, std::string_view key) {
  const json::Value* member = v.Find(key);
  if (member == nullptr || member->is_null()) return static_cast<const json::Value*>(nullptr);
  if (!member->is_object()) {
    return MakeError(ErrorKind::kBadMetadata, "state: field \"" + std::string(key) +
                                                  "\" must be an object or null, got " +
                                                  std::string(json::TypeName(member->type())));
  }
  return member;
}

Result<int64_t> ParseFloor(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || text.empty()) {
    return MakeError(ErrorKind::kBadMetadata, "security_floor: not a non-negative integer");
  }
  return value;
}

}  // namespace

void AttachSbomReference(const json::Value& custom, TargetRecord& record) {
  record.sbom_name.clear();
  record.sbom_sha256.clear();
  const json::Value* sbom = custom.is_object() ? custom.Find("sbom") : nullptr;
  if (sbom == nullptr || !sbom->is_object()) return;
  const json::Value* name = sbom->Find("name");
  const json::Value* sha = sbom->Find("sha256");
  if (name == nullptr || !name->is_string() || name->as_string().empty() || sha == nullptr ||
      !sha->is_string() || !IsSha256Hex(sha->as_string())) {
    return;
  }
  record.sbom_name = name->as_string();
  record.sbom_sha256 = sha->as_string();
}

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kStaged:
      return "staged";
    case Phase::kInstalling:
      return "installing";
    case Phase::kActivated:
      return "activated";
    case Phase::kRollingBack:
      return "rolling_back";
    case Phase::kCommitted:
      return "committed";
  }
  return "unknown";
}

std::optional<Phase> PhaseFromName(std::string_view name) {
  for (Phase p : {Phase::kStaged, Phase::kInstalling, Phase::kActivated, Phase::kRollingBack,
                  Phase::kCommitted}) {
    if (PhaseName(p) == name) return p;
  }
  return std::nullopt;
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCommitted:
      return "committed";
    case Outcome::kRolledBack:
      return "rolled_back";
    case Outcome::kRefused:
      return "refused";
  }
  return "unknown";
}

std::string SerializeState(const DeviceState& state) {
  json::Value root =
      json::Value::MakeObject({{"format", kFormat}, {"security_floor", state.security_floor}});
  root.Set("installed", state.installed ? InstallationToValue(*state.installed) : json::Value());
  root.Set("previous", state.previous ? InstallationToValue(*state.previous) : json::Value());
  if (state.pending) {
    const PendingInstall& p = *state.pending;
    root.Set("pending", json::Value::MakeObject({{"phase", PhaseName(p.phase)},
                                                 {"target", TargetToValue(p.target)},
                                                 {"from_slot", p.from_slot},
                                                 {"to_slot", p.to_slot},
                                                 {"reason", ReasonName(p.reason)},
                                                 {"message", p.message}}));
  } else {
    root.Set("pending", json::Value());
  }
  if (state.last_result) {
    const LastResult& r = *state.last_result;
    root.Set("last_result", json::Value::MakeObject({{"outcome", OutcomeName(r.outcome)},
                                                     {"reason", ReasonName(r.reason)},
                                                     {"message", r.message},
                                                     {"target", TargetToValue(r.target)}}));
  } else {
    root.Set("last_result", json::Value());
  }
  return json::Serialize(root, 1) + "\n";
}

Result<DeviceState> ParseState(std::string_view bytes) {
  Result<json::Value> parsed = json::Parse(bytes);
  if (!parsed) return MakeError(parsed.error().WithContext("state"));
  const json::Value& root = *parsed;
  if (!root.is_object()) return MakeError(ErrorKind::kBadMetadata, "state: not a JSON object");
  MDU_ASSIGN_OR_RETURN(int64_t format, json::RequireInt(root, "format", "state"));
  if (format != kFormat) {
    return MakeError(ErrorKind::kBadMetadata,
                     "state: unsupported format " + std::to_string(format));
  }
  DeviceState state;
  MDU_ASSIGN_OR_RETURN(state.security_floor, json::RequireInt(root, "security_floor", "state"));
  if (state.security_floor < 0) {
    return MakeError(ErrorKind::kBadMetadata, "state: security_floor must be >= 0");
  }
  MDU_ASSIGN_OR_RETURN(const json::Value* installed, OptionalObject(root, "installed"));
  if (installed != nullptr) {
    MDU_ASSIGN_OR_RETURN(state.installed, InstallationFromValue(*installed, "state.installed"));
  }
  MDU_ASSIGN_OR_RETURN(const json::Value* previous, OptionalObject(root, "previous"));
  if (previous != nullptr) {
    MDU_ASSIGN_OR_RETURN(state.previous, InstallationFromValue(*previous, "state.previous"));
  }
  MDU_ASSIGN_OR_RETURN(const json::Value* pending, OptionalObject(root, "pending"));
  if (pending != nullptr) {
    PendingInstall p;
    MDU_ASSIGN_OR_RETURN(std::string phase,
                         json::RequireString(*pending, "phase", "state.pending"));
    std::optional<Phase> parsed_phase = PhaseFromName(phase);
    if (!parsed_phase) {
      return MakeError(ErrorKind::kBadMetadata, "state.pending: unknown phase \"" + phase + "\"");
    }
    p.phase = *parsed_phase;
    MDU_ASSIGN_OR_RETURN(
        const json::Value* target,
        json::RequireField(*pending, "target", json::Type::kObject, "state.pending"));
    MDU_ASSIGN_OR_RETURN(p.target, TargetFromValue(*target, "state.pending.target"));
    MDU_ASSIGN_OR_RETURN(p.from_slot, json::RequireString(*pending, "from_slot", "state.pending"));
    MDU_ASSIGN_OR_RETURN(p.to_slot, json::RequireString(*pending, "to_slot", "state.pending"));
    MDU_ASSIGN_OR_RETURN(p.reason, ReasonField(*pending, "state.pending"));
    MDU_ASSIGN_OR_RETURN(p.message, json::RequireString(*pending, "message", "state.pending"));
    state.pending = std::move(p);
  }
  MDU_ASSIGN_OR_RETURN(const json::Value* last, OptionalObject(root, "last_result"));
  if (last != nullptr) {
    LastResult r;
    MDU_ASSIGN_OR_RETURN(std::string outcome,
                         json::RequireString(*last, "outcome", "state.last_result"));
    if (outcome == "committed") {
      r.outcome = Outcome::kCommitted;
    } else if (outcome == "rolled_back") {
      r.outcome = Outcome::kRolledBack;
    } else if (outcome == "refused") {
      r.outcome = Outcome::kRefused;
    } else {
      return MakeError(ErrorKind::kBadMetadata,
                       "state.last_result: unknown outcome \"" + outcome + "\"");
    }
    MDU_ASSIGN_OR_RETURN(r.reason, ReasonField(*last, "state.last_result"));
    MDU_ASSIGN_OR_RETURN(r.message, json::RequireString(*last, "message", "state.last_result"));
    MDU_ASSIGN_OR_RETURN(
        const json::Value* target,
        json::RequireField(*last, "target", json::Type::kObject, "state.last_result"));
    MDU_ASSIGN_OR_RETURN(r.target, TargetFromValue(*target, "state.last_result.target"));
    state.last_result = std::move(r);
  }
  return state;
}

Result<StateStore> StateStore::Open(std::filesystem::path directory) {
  if (directory.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty state directory");
  MDU_RETURN_IF_ERROR(io::CreateDirectories(directory));
  return StateStore(std::move(directory));
}

Result<int64_t> StateStore::LoadFloorCopy() const {
  const std::filesystem::path path = directory_ / kFloorFile;
  Result<std::string> bytes = io::ReadFileBounded(path, 64);
  if (!bytes) {
    if (bytes.error().kind() == ErrorKind::kNotFound) return int64_t{0};
    return MakeError(bytes.error().WithContext(path.string()));
  }
  Result<int64_t> floor = ParseFloor(*bytes);
  if (!floor) return MakeError(floor.error().WithContext(path.string()));
  return *floor;
}

Result<DeviceState> StateStore::Load() const {
  const std::filesystem::path path = directory_ / kStateFile;
  DeviceState state;
  Result<std::string> bytes = io::ReadFileBounded(path, kMaxStateBytes);
  if (bytes) {
    Result<DeviceState> parsed = ParseState(*bytes);
    if (!parsed) return MakeError(parsed.error().WithContext(path.string()));
    state = std::move(*parsed);
  } else if (bytes.error().kind() != ErrorKind::kNotFound) {
    return MakeError(bytes.error().WithContext(path.string()));
  }
  MDU_ASSIGN_OR_RETURN(int64_t floor_copy, LoadFloorCopy());
  if (floor_copy > state.security_floor) {
    state.security_floor = floor_copy;
    state.floor_restored = true;
  }
  return state;
}

Status StateStore::Save(const DeviceState& state) {
  MDU_ASSIGN_OR_RETURN(DeviceState current, Load());
  if (state.security_floor < current.security_floor) {
    return MakeError(ErrorKind::kPolicy, "refusing to lower the security floor from " +
                                             std::to_string(current.security_floor) + " to " +
                                             std::to_string(state.security_floor));
  }
  // state.json first: a crash before the second write leaves the copy lower, which Load()
  // treats as normal (state.json wins); only a copy above state.json means tampering.
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(directory_ / kStateFile, SerializeState(state)));
  MDU_ASSIGN_OR_RETURN(int64_t floor_copy, LoadFloorCopy());
  if (floor_copy != state.security_floor) {
    MDU_RETURN_IF_ERROR(io::WriteFileAtomically(directory_ / kFloorFile,
                                                std::to_string(state.security_floor) + "\n"));
  }
  return {};
}

}  // namespace mdu::agent::update
