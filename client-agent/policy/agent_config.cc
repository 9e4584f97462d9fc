#include "client-agent/policy/agent_config.h"

#include <set>
#include <utility>

#include "core/io/file.h"
#include "core/json/parser.h"

namespace mdu::agent::policy {
namespace {

using json::Value;

Error Bad(std::string_view field, std::string_view why) {
  return Error(ErrorKind::kBadMetadata,
               "agent config: \"" + std::string(field) + "\" " + std::string(why));
}

Status OnlyKnownFields(const Value& object, std::string_view where,
                       const std::set<std::string, std::less<>>& known) {
  for (const auto& [key, value] : object.as_object()) {
    if (known.count(key) == 0) return MakeError(Bad(where, "has an unknown field \"" + key + "\""));
  }
  return {};
}

Result<std::chrono::seconds> Seconds(const Value& object, std::string_view key,
                                     std::string_view where, std::chrono::seconds fallback,
                                     int64_t minimum) {
  const Value* value = object.Find(key);
  if (value == nullptr) return fallback;
  if (!value->is_int() || value->as_int() < minimum) {
    return MakeError(Bad(std::string(where) + "." + std::string(key),
                         "must be an integer >= " + std::to_string(minimum)));
  }
  return std::chrono::seconds(value->as_int());
}

Result<std::vector<std::string>> Strings(const Value& value, std::string_view field) {
  if (!value.is_array()) return MakeError(Bad(field, "must be an array of strings"));
  std::vector<std::string> out;
  for (const Value& item : value.as_array()) {
    if (!item.is_string()) return MakeError(Bad(field, "must be an array of strings"));
    out.push_back(item.as_string());
  }
  return out;
}

Status ParseInstaller(const Value& value, InstallerConfig* out) {
  if (!value.is_object()) return MakeError(Bad("installer", "must be an object"));
  MDU_RETURN_IF_ERROR(OnlyKnownFields(value, "installer", {"type", "path", "timeout_s"}));
  if (const Value* type = value.Find("type"); type != nullptr) {
    if (!type->is_string() || (type->as_string() != "ab-dir" && type->as_string() != "script")) {
      return MakeError(Bad("installer.type", "must be \"ab-dir\" or \"script\""));
    }
    out->type = type->as_string();
  }
  if (const Value* path = value.Find("path"); path != nullptr) {
    if (!path->is_string() || path->as_string().empty() || path->as_string()[0] != '/') {
      return MakeError(Bad("installer.path", "must be an absolute path"));
    }
    out->path = path->as_string();
  }
  if (out->type == "script" && out->path.empty()) {
    return MakeError(Bad("installer.path", "is required for the script installer"));
  }
  MDU_ASSIGN_OR_RETURN(out->timeout, Seconds(value, "timeout_s", "installer", out->timeout, 1));
  return {};
}

Status ParseBusyHook(const Value& value, BusyHookConfig* out) {
  if (!value.is_object()) return MakeError(Bad("busy_hook", "must be an object"));
  MDU_RETURN_IF_ERROR(OnlyKnownFields(value, "busy_hook", {"command", "timeout_s"}));
  const Value* command = value.Find("command");
  if (command == nullptr) return MakeError(Bad("busy_hook.command", "is required"));
  MDU_ASSIGN_OR_RETURN(out->command, Strings(*command, "busy_hook.command"));
  if (out->command.empty()) return MakeError(Bad("busy_hook.command", "must not be empty"));
  MDU_ASSIGN_OR_RETURN(out->timeout, Seconds(value, "timeout_s", "busy_hook", out->timeout, 1));
  return {};
}

Status ParsePoll(const Value& value, PollConfig* out) {
  if (!value.is_object()) return MakeError(Bad("poll", "must be an object"));
  MDU_RETURN_IF_ERROR(OnlyKnownFields(value, "poll", {"interval_s", "jitter_s", "max_backoff_s"}));
  MDU_ASSIGN_OR_RETURN(out->interval, Seconds(value, "interval_s", "poll", out->interval, 1));
  MDU_ASSIGN_OR_RETURN(out->jitter, Seconds(value, "jitter_s", "poll", out->jitter, 0));
  MDU_ASSIGN_OR_RETURN(out->max_backoff,
                       Seconds(value, "max_backoff_s", "poll", out->max_backoff, 1));
  return {};
}

using std::chrono::seconds;

// The help texts are the command line's; the bounds hold for the file too.
constexpr LimitOption kLimitOptions[] = {
    {"download", "attempts", "--download-attempts", 1, 1000,
     "attempts without progress before a download gives up (it resumes next time; default 5; "
     "config download.attempts)",
     &CommandLineLimits::download_attempts,
     [](AgentConfig& c, int64_t v) { c.download.max_attempts = static_cast<int>(v); }},
    {"download", "max_attempts", "--download-max-attempts", 1, 10000,
     "attempts of one download in all, progress or not: a trickling source ends there "
     "(default 50; config download.max_attempts)",
     &CommandLineLimits::download_max_attempts,
     [](AgentConfig& c, int64_t v) { c.download.max_total_attempts = static_cast<int>(v); }},
    {"download", "backoff_s", "--retry-backoff", 0, 3600,
     "seconds before the first retry of a download, doubled each time (default 2; config "
     "download.backoff_s)",
     &CommandLineLimits::retry_backoff_s,
     [](AgentConfig& c, int64_t v) { c.download.initial_backoff = seconds(v); }},
    {"download", "max_backoff_s", "--retry-max-backoff", 0, 86400,
     "cap of the delay between download attempts in seconds (default 60; config "
     "download.max_backoff_s)",
     &CommandLineLimits::retry_max_backoff_s,
     [](AgentConfig& c, int64_t v) { c.download.max_backoff = seconds(v); }},
    {"event_log", "max_bytes", "--event-log-max-bytes",
     static_cast<int64_t>(2 * events::LogLimits::kMinSegmentBytes), int64_t{1} << 30,
     "size cap of the security event log; the oldest segment is dropped beyond it (default "
     "16 MiB; config event_log.max_bytes)",
     &CommandLineLimits::event_log_max_bytes,
     [](AgentConfig& c, int64_t v) { c.event_log.max_bytes = static_cast<uint64_t>(v); }},
    {"event_log", "segments", "--event-log-segments", 2, 1000,
     "files the security event log rotates through (2..1000, default 4; config "
     "event_log.segments)",
     &CommandLineLimits::event_log_segments,
     [](AgentConfig& c, int64_t v) { c.event_log.max_segments = static_cast<uint32_t>(v); }},
};

bool InRange(int64_t value, const LimitOption& option) {
  return value >= option.min && value <= option.max;
}

std::string RangeText(const LimitOption& option) {
  return std::to_string(option.min) + " to " + std::to_string(option.max);
}

// The limits of one section of the file ("download", "event_log"): unknown fields and values
// outside their bound are refused; absent fields keep their defaults.
Status ParseLimitSection(const Value& value, std::string_view section, AgentConfig* config) {
  if (!value.is_object()) return MakeError(Bad(section, "must be an object"));
  std::set<std::string, std::less<>> known;
  for (const LimitOption& option : kLimitOptions) {
    if (option.section == section) known.emplace(option.key);
  }
  MDU_RETURN_IF_ERROR(OnlyKnownFields(value, section, known));
  for (const LimitOption& option : kLimitOptions) {
    if (option.section != section) continue;
    const Value* field = value.Find(option.key);
    if (field == nullptr) continue;
    if (!field->is_int() || !InRange(field->as_int(), option)) {
      return MakeError(Bad(std::string(section) + "." + std::string(option.key),
                           "must be an integer from " + RangeText(option)));
    }
    option.store(*config, field->as_int());
  }
  return {};
}

}  // namespace

Result<AgentConfig> ParseAgentConfig(std::string_view bytes) {
  Result<Value> parsed = json::Parse(bytes);
  if (!parsed) return MakeError(parsed.error().WithContext("agent config"));
  const Value& root = *parsed;
  if (!root.is_object()) return MakeError(ErrorKind::kBadMetadata, "agent config: not an object");
  MDU_RETURN_IF_ERROR(
      OnlyKnownFields(root, "config",
                      {"device_id", "maintenance_windows", "require_approval", "approval_ttl_s",
                       "busy_hook", "operator_keys", "operator_auth_max_lifetime_s", "installer",
                       "config_backup", "poll", "download", "event_log"}));
  AgentConfig config;
  if (const Value* id = root.Find("device_id"); id != nullptr) {
    if (!id->is_string()) return MakeError(Bad("device_id", "must be a string"));
    config.device_id = id->as_string();
  }
  if (const Value* windows = root.Find("maintenance_windows"); windows != nullptr) {
    MDU_ASSIGN_OR_RETURN(std::vector<std::string> texts, Strings(*windows, "maintenance_windows"));
    for (const std::string& text : texts) {
      Result<MaintenanceWindow> window = ParseMaintenanceWindow(text);
      if (!window) return MakeError(window.error().WithContext("agent config"));
      config.maintenance_windows.push_back(std::move(*window));
    }
  }
  if (const Value* approval = root.Find("require_approval"); approval != nullptr) {
    if (!approval->is_bool()) return MakeError(Bad("require_approval", "must be a boolean"));
    config.require_approval = approval->as_bool();
  }
  MDU_ASSIGN_OR_RETURN(config.approval_ttl,
                       Seconds(root, "approval_ttl_s", "config", config.approval_ttl, 1));
  if (const Value* hook = root.Find("busy_hook"); hook != nullptr) {
    MDU_RETURN_IF_ERROR(ParseBusyHook(*hook, &config.busy_hook));
  }
  if (const Value* keys = root.Find("operator_keys"); keys != nullptr) {
    if (!keys->is_array()) return MakeError(Bad("operator_keys", "must be an array of keys"));
    for (const Value& key : keys->as_array()) {
      Result<crypto::PublicKey> parsed_key = crypto::PublicKey::FromTuf(key);
      if (!parsed_key)
        return MakeError(parsed_key.error().WithContext("agent config operator_keys"));
      config.operator_keys.push_back(std::move(*parsed_key));
    }
    if (config.operator_keys.empty()) {
      return MakeError(Bad("operator_keys", "must not be empty (omit it to leave commands open)"));
    }
    if (config.device_id.empty()) {
      return MakeError(Bad("device_id", "is required with operator_keys"));
    }
  }
  MDU_ASSIGN_OR_RETURN(std::chrono::seconds lifetime,
                       Seconds(root, "operator_auth_max_lifetime_s", "config",
                               std::chrono::seconds(config.operator_auth_max_lifetime_s), 1));
  config.operator_auth_max_lifetime_s = lifetime.count();
  if (const Value* installer = root.Find("installer"); installer != nullptr) {
    MDU_RETURN_IF_ERROR(ParseInstaller(*installer, &config.installer));
  }
  if (const Value* files = root.Find("config_backup"); files != nullptr) {
    MDU_ASSIGN_OR_RETURN(std::vector<std::string> paths, Strings(*files, "config_backup"));
    for (const std::string& path : paths) {
      if (path.empty() || path[0] != '/') {
        return MakeError(Bad("config_backup", "entries must be absolute paths"));
      }
      config.config_backup.emplace_back(path);
    }
  }
  if (const Value* poll = root.Find("poll"); poll != nullptr) {
    MDU_RETURN_IF_ERROR(ParsePoll(*poll, &config.poll));
  }
  for (std::string_view section : {"download", "event_log"}) {
    if (const Value* limits = root.Find(section); limits != nullptr) {
      MDU_RETURN_IF_ERROR(ParseLimitSection(*limits, section, &config));
    }
  }
  return config;
}

std::span<const LimitOption> LimitOptions() { return kLimitOptions; }

Status ApplyCommandLine(const CommandLineLimits& limits, AgentConfig* config) {
  for (const LimitOption& option : kLimitOptions) {
    const std::optional<int64_t>& given = limits.*option.given;
    if (!given) continue;
    if (!InRange(*given, option)) {
      return MakeError(ErrorKind::kInvalidArgument, std::string(option.flag) + " must be from " +
                                                        RangeText(option) + ", not " +
                                                        std::to_string(*given));
    }
    option.store(*config, *given);
  }
  return {};
}

Result<AgentConfig> LoadAgentConfig(const std::filesystem::path& path) {
  Result<std::string> bytes = io::ReadFileBounded(path, 1u << 20);
  if (!bytes) return MakeError(bytes.error().WithContext("agent config " + path.string()));
  Result<AgentConfig> config = ParseAgentConfig(*bytes);
  if (!config) return MakeError(config.error().WithContext(path.string()));
  return config;
}

}  // namespace mdu::agent::policy
