#include "repo-server/ops_client/format.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "core/common/hex.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::ops {
namespace {

namespace v1 = ::mdu::v1;
using json::Value;

Value Int(uint64_t value) { return Value(static_cast<int64_t>(value)); }
Value Time(int64_t unix_seconds) {
  return unix_seconds == 0 ? Value(nullptr) : Value(FormatTime(unix_seconds));
}
Value OptionalText(const std::string& text) { return text.empty() ? Value(nullptr) : Value(text); }

// Length of the valid UTF-8 sequence at `text[i]` that encodes a printable code point (not a C1
// control), or 0.
size_t PrintableUtf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  size_t length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length == 0 || lead > 0xf4 || i + length > text.size()) return 0;
  uint32_t code = lead & (0x7f >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i + k) & 0x3f);
  }
  const uint32_t min = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  if (code <= 0x9f) return 0;  // C1 controls (0x9b is a CSI on some terminals)
  return length;
}

Value RoleJson(const v1::RoleStatus& role) {
  return Value::MakeObject({{"role", Value(role.role())},
                            {"version", Value(role.version())},
                            {"expires", Time(role.expires())}});
}

Value RolesJson(const google::protobuf::RepeatedPtrField<v1::RoleStatus>& roles) {
  json::Array out;
  for (const v1::RoleStatus& role : roles) out.push_back(RoleJson(role));
  return Value(std::move(out));
}

// Top-level roles first, then delegated ones by name.
std::vector<const v1::RoleStatus*> SortedRoles(
    const google::protobuf::RepeatedPtrField<v1::RoleStatus>& roles) {
  auto rank = [](const std::string& role) {
    static const char* kOrder[] = {"root", "timestamp", "snapshot", "targets"};
    for (int i = 0; i < 4; ++i) {
      if (role == kOrder[i]) return i;
    }
    return 4;
  };
  std::vector<const v1::RoleStatus*> sorted;
  for (const v1::RoleStatus& role : roles) sorted.push_back(&role);
  std::stable_sort(sorted.begin(), sorted.end(), [&](const auto* a, const auto* b) {
    return std::make_pair(rank(a->role()), a->role()) < std::make_pair(rank(b->role()), b->role());
  });
  return sorted;
}

std::string RolesTable(const google::protobuf::RepeatedPtrField<v1::RoleStatus>& roles) {
  Table table({"ROLE", "VERSION", "EXPIRES"});
  for (const v1::RoleStatus* role : SortedRoles(roles)) {
    table.AddRow({role->role(), std::to_string(role->version()), FormatTime(role->expires())});
  }
  return table.Render();
}

Value EvidenceFields(json::Object& fields, v1::Evidence evidence, const std::string& fingerprint,
                     const std::string& certificate) {
  fields.emplace_back("evidence", Value(EvidenceName(evidence)));
  fields.emplace_back("certificate_sha256", OptionalText(fingerprint));
  fields.emplace_back("device_certificate", OptionalText(certificate));
  return Value::MakeObject(std::move(fields));
}

Value ReportJson(const v1::StoredReport& stored) {
  const v1::InstallationReport& r = stored.report();
  json::Object fields = {{"report_id", Value(r.report_id())},
                         {"device_id", Value(r.device_id())},
                         {"target", Value(r.target())},
                         {"from_version", Value(r.from_version())},
                         {"to_version", Value(r.to_version())},
                         {"phase", Value(PhaseName(r.phase()))},
                         {"success", Value(r.success())},
                         {"error_code", Value(r.error_code())},
                         {"log_excerpt", Value(r.log_excerpt())},
                         {"device_time", Time(r.device_time())},
                         {"received_time", Time(stored.received_time())},
                         {"nonce", Value(HexEncode(r.nonce()))},
                         {"signature", Value(HexEncode(r.signature()))}};
  return EvidenceFields(fields, stored.evidence(), stored.certificate_sha256(),
                        stored.device_certificate());
}

Value EventJson(const v1::StoredSecurityEvent& stored) {
  const v1::SecurityEvent& e = stored.event();
  json::Object fields = {{"event_id", Value(e.event_id())},
                         {"device_id", Value(e.device_id())},
                         {"kind", Value(e.kind())},
                         {"subject", Value(e.subject())},
                         {"detail", Value(e.detail())},
                         {"device_time", Time(e.device_time())},
                         {"received_time", Time(stored.received_time())},
                         {"nonce", Value(HexEncode(e.nonce()))},
                         {"signature", Value(HexEncode(e.signature()))}};
  return EvidenceFields(fields, stored.evidence(), stored.certificate_sha256(),
                        stored.device_certificate());
}

Value ReportsJson(const google::protobuf::RepeatedPtrField<v1::StoredReport>& reports) {
  json::Array out;
  for (const v1::StoredReport& stored : reports) out.push_back(ReportJson(stored));
  return Value(std::move(out));
}

// One row per report; failures get the reason and the log's first line underneath.
std::string ReportsTable(const google::protobuf::RepeatedPtrField<v1::StoredReport>& reports,
                         bool with_device) {
  std::vector<std::string> headers = {"RECEIVED", "TARGET", "FROM", "TO", "PHASE", "RESULT",
                                      "REASON", "EVIDENCE", "REPORT"};
  if (with_device) headers.insert(headers.begin() + 1, "DEVICE");
  Table table(std::move(headers));
  for (const v1::StoredReport& stored : reports) {
    const v1::InstallationReport& r = stored.report();
    std::vector<std::string> row = {FormatTime(stored.received_time()),
                                    r.target(),
                                    r.from_version().empty() ? "-" : r.from_version(),
                                    r.to_version(),
                                    PhaseName(r.phase()),
                                    r.success() ? "ok" : "FAILED",
                                    r.error_code().empty() ? "-" : r.error_code(),
                                    EvidenceName(stored.evidence()),
                                    r.report_id()};
    if (with_device) row.insert(row.begin() + 1, r.device_id());
    table.AddRow(std::move(row));
  }
  std::string out = table.Render();
  bool any_log = false;
  for (const v1::StoredReport& stored : reports) {
    const v1::InstallationReport& r = stored.report();
    if (r.success() || r.log_excerpt().empty()) continue;
    if (!any_log) out += "\nlog excerpts of failures (first line):\n";
    any_log = true;
    out += "  " + Printable(r.report_id()) + ": " + FirstLine(r.log_excerpt()) + "\n";
  }
  return out;
}

std::string Plural(size_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

}  // namespace

std::string FormatTime(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (size_t length = c >= 0x80 ? PrintableUtf8Length(text, i) : 0; length > 0) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    char escaped[5];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
    out += escaped;
    ++i;
  }
  return out;
}

std::string FirstLine(std::string_view text, size_t max) {
  size_t end = text.find_first_of("\r\n");
  std::string_view line = text.substr(0, end);
  std::string out = Printable(line);
  bool cut = end != std::string_view::npos && text.find_first_not_of("\r\n", end) !=
                                                  std::string_view::npos;
  if (out.size() > max) {
    out.resize(max);
    // Do not leave half a UTF-8 sequence.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xc0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xc0) out.pop_back();
    cut = true;
  }
  return cut ? out + " ..." : out;
}

std::string PhaseName(v1::InstallPhase phase) {
  std::string name = v1::InstallPhase_Name(phase);
  constexpr std::string_view kPrefix = "INSTALL_PHASE_";
  if (name.starts_with(kPrefix)) name = name.substr(kPrefix.size());
  if (name.empty()) name = "phase_" + std::to_string(static_cast<int>(phase));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string EvidenceName(v1::Evidence evidence) {
  switch (evidence) {
    case v1::EVIDENCE_VERIFIED: return "verified";
    case v1::EVIDENCE_UNVERIFIED: return "unverified";
    default: return "unspecified";
  }
}

std::string Table::Render() const {
  std::vector<std::vector<std::string>> cells;
  cells.push_back(headers_);
  for (const auto& row : rows_) {
    std::vector<std::string> printable;
    for (const std::string& cell : row) printable.push_back(Printable(cell));
    cells.push_back(std::move(printable));
  }
  std::vector<size_t> widths(headers_.size(), 0);
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

json::Value PublishJson(const PublishSummary& s) {
  return Value::MakeObject(
      {{"server", Value(s.server)},
       {"description", Value(s.description)},
       {"roles", RolesJson(s.response->roles())},
       {"targets_stored", Value(s.response->targets_stored())},
       {"targets_uploaded", Int(s.blobs_sent)},
       {"metadata_uploaded", Int(s.metadata_sent)},
       {"bytes_uploaded", Int(s.bytes_sent)},
       {"targets_already_stored", Int(s.blobs_skipped)},
       {"bytes_not_uploaded", Int(s.bytes_skipped)},
       {"skipped_metadata_files", Int(s.tree != nullptr ? s.tree->skipped_files : 0)}});
}

std::string PublishText(const PublishSummary& s) {
  std::string out = "published to " + s.server + ": " + Plural(s.metadata_sent, "metadata file") +
                    ", " + Plural(s.blobs_sent, "target blob") + ", " +
                    std::to_string(s.bytes_sent) + " bytes uploaded; " +
                    (s.blobs_skipped == 0
                         ? std::string()
                         : Plural(s.blobs_skipped, "target blob") + " (" +
                               std::to_string(s.bytes_skipped) +
                               " bytes) already stored, not uploaded; ") +
                    std::to_string(s.response->targets_stored()) +
                    " new target blob(s) stored by the server\n";
  out += "repository now current:\n" + RolesTable(s.response->roles());
  return out;
}

json::Value StatusJson(const std::string& server, const v1::RepositoryStatus& status) {
  return Value::MakeObject({{"server", Value(server)},
                            {"initialized", Value(status.initialized())},
                            {"target_count", Int(status.target_count())},
                            {"roles", RolesJson(status.roles())}});
}

std::string StatusText(const std::string& server, const v1::RepositoryStatus& status) {
  if (!status.initialized()) {
    return "server " + server + ": no repository published yet\n";
  }
  return "server " + server + ": " + Plural(status.target_count(), "target") + "\n" +
         RolesTable(status.roles());
}

json::Value DevicesJson(const v1::ListDevicesResponse& list) {
  json::Array devices;
  for (const v1::DeviceSummary& d : list.devices()) {
    json::Array installed;
    for (const v1::InstalledTarget& t : d.installed()) {
      installed.push_back(Value::MakeObject({{"name", Value(t.name())},
                                             {"version", Value(t.version())},
                                             {"security_version", Value(t.security_version())},
                                             {"sha256", Value(t.sha256())},
                                             {"sbom_sha256", OptionalText(t.sbom_sha256())}}));
    }
    devices.push_back(Value::MakeObject(
        {{"device_id", Value(d.device_id())},
         {"installed_version", OptionalText(d.installed_version())},
         {"last_report_id", OptionalText(d.last_report_id())},
         {"last_report_time", Time(d.last_report_time())},
         {"last_success", d.last_report_id().empty() ? Value(nullptr) : Value(d.last_success())},
         {"last_phase", d.last_report_id().empty() ? Value(nullptr)
                                                    : Value(PhaseName(d.last_phase()))},
         {"certificate_sha256", OptionalText(d.certificate_sha256())},
         {"inventory_time", Time(d.inventory_time())},
         {"installed", Value(std::move(installed))}}));
  }
  return Value::MakeObject({{"devices", Value(std::move(devices))}});
}

std::string DevicesText(const v1::ListDevicesResponse& list) {
  if (list.devices().empty()) return "no devices\n";
  Table table({"DEVICE", "INSTALLED", "LAST REPORT", "RESULT", "PHASE", "INVENTORY",
               "CERTIFICATE"});
  for (const v1::DeviceSummary& d : list.devices()) {
    const bool reported = !d.last_report_id().empty();
    std::string inventory = "-";
    if (d.inventory_time() != 0) {
      inventory = Plural(static_cast<size_t>(d.installed_size()), "target") + " at " +
                  FormatTime(d.inventory_time());
    }
    table.AddRow({d.device_id(), d.installed_version().empty() ? "-" : d.installed_version(),
                  FormatTime(d.last_report_time()),
                  reported ? (d.last_success() ? "ok" : "FAILED") : "-",
                  reported ? PhaseName(d.last_phase()) : "-", inventory,
                  d.certificate_sha256().empty() ? "-" : d.certificate_sha256().substr(0, 16)});
  }
  std::string out = table.Render();
  out += Plural(static_cast<size_t>(list.devices_size()), "device") + "\n";
  return out;
}

json::Value HistoryJson(const std::string& device_id, const v1::DeviceHistory& history) {
  json::Array events;
  for (const v1::StoredSecurityEvent& e : history.security_events()) events.push_back(EventJson(e));
  return Value::MakeObject({{"device_id", Value(device_id)},
                            {"reports", ReportsJson(history.reports())},
                            {"security_events", Value(std::move(events))}});
}

std::string HistoryText(const std::string& device_id, const v1::DeviceHistory& history) {
  std::string out = "device " + Printable(device_id) + ": " +
                    Plural(static_cast<size_t>(history.reports_size()), "installation report") +
                    ", " +
                    Plural(static_cast<size_t>(history.security_events_size()), "security event") +
                    "\n";
  if (!history.reports().empty()) out += "\n" + ReportsTable(history.reports(), false);
  if (!history.security_events().empty()) {
    Table table({"RECEIVED", "KIND", "SUBJECT", "EVIDENCE", "EVENT", "DETAIL"});
    for (const v1::StoredSecurityEvent& stored : history.security_events()) {
      const v1::SecurityEvent& e = stored.event();
      table.AddRow({FormatTime(stored.received_time()), e.kind(),
                    e.subject().empty() ? "-" : e.subject(), EvidenceName(stored.evidence()),
                    e.event_id(), e.detail().empty() ? "-" : FirstLine(e.detail(), 80)});
    }
    out += "\nsecurity events:\n" + table.Render();
  }
  return out;
}

json::Value FailuresJson(const std::string& release, const v1::ListFailuresResponse& list) {
  return Value::MakeObject(
      {{"release", Value(release)}, {"reports", ReportsJson(list.reports())}});
}

std::string FailuresText(const std::string& release, const v1::ListFailuresResponse& list) {
  std::string out = "release " + Printable(release) + ": " +
                    Plural(static_cast<size_t>(list.reports_size()), "failed installation") + "\n";
  if (!list.reports().empty()) out += "\n" + ReportsTable(list.reports(), true);
  return out;
}

json::Value AuditJson(const std::vector<v1::AuditRecordEntry>& records) {
  json::Array out;
  for (const v1::AuditRecordEntry& entry : records) {
    auto parsed = json::Parse(entry.record());
    out.push_back(Value::MakeObject({{"seq", Int(entry.seq())},
                                     {"sha256", Value(entry.sha256())},
                                     {"record", parsed ? std::move(*parsed)
                                                       : Value(Printable(entry.record()))}}));
  }
  return Value::MakeObject({{"records", Value(std::move(out))}});
}

std::string AuditText(const std::vector<v1::AuditRecordEntry>& records) {
  if (records.empty()) return "no audit records\n";
  Table table({"SEQ", "TIME", "ACTOR", "ACTION", "DETAIL"});
  for (const v1::AuditRecordEntry& entry : records) {
    auto parsed = json::Parse(entry.record());
    if (!parsed || !parsed->is_object()) {
      table.AddRow({std::to_string(entry.seq()), "-", "-", "(unparsable)",
                    FirstLine(entry.record(), 100)});
      continue;
    }
    auto text = [&](std::string_view key) {
      const Value* v = parsed->Find(key);
      if (v == nullptr) return std::string("-");
      if (v->is_string()) return v->as_string();
      if (v->is_int() && key == "time") return FormatTime(v->as_int());
      return json::Serialize(*v);
    };
    table.AddRow({std::to_string(entry.seq()), text("time"), text("actor"), text("action"),
                  FirstLine(text("detail"), 100)});
  }
  return table.Render() + Plural(records.size(), "record") + "\n";
}

std::string JsonDocument(const json::Value& value) { return json::Serialize(value, 2) + "\n"; }

}  // namespace mdu::ops
