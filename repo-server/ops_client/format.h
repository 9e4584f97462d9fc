// Output of the operator commands: a human-readable table per answer (times in UTC ISO-8601,
// evidence verified/unverified, failure code and the first line of the log excerpt) and the
// `--json` documents whose field names are part of the interface (documented in
// repo-server/README.md, "Operator commands"; never renamed once released).
//
// Everything a device or the server sent is text from outside: the tables escape control
// characters and other non-printable bytes (\xHH), so a report cannot rewrite the operator's
// terminal with escape sequences. JSON output is RFC 8259 (json::Serialize), so it escapes
// them too. Pure functions: no I/O.
#ifndef MDU_REPO_SERVER_OPS_CLIENT_FORMAT_H_
#define MDU_REPO_SERVER_OPS_CLIENT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json/value.h"
#include "mdu/v1/repository.pb.h"
#include "repo-server/ops_client/publish_tree.h"

namespace mdu::ops {

// "2026-12-01T13:25:33Z"; "-" for 0 (unset) in tables, null in JSON.
std::string FormatTime(int64_t unix_seconds);
// Non-printable bytes (controls, DEL, bytes >= 0x80 that are not UTF-8) as \xHH; UTF-8 kept.
std::string Printable(std::string_view text);
// The first line of `text`, printable, at most `max` characters ("..." when cut).
std::string FirstLine(std::string_view text, size_t max = 120);
// "health_check", "complete", ... (INSTALL_PHASE_ prefix dropped, lower case).
std::string PhaseName(::mdu::v1::InstallPhase phase);
// "verified", "unverified", "unspecified".
std::string EvidenceName(::mdu::v1::Evidence evidence);

// Columns padded to the widest cell; cells are made printable.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string Render() const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// What a publish sent and what the server made current.
struct PublishSummary {
  std::string server;
  std::string description;
  const PublishTree* tree = nullptr;
  const ::mdu::v1::PublishResponse* response = nullptr;
  uint64_t bytes_sent = 0;
  size_t metadata_sent = 0;
  size_t blobs_sent = 0;
  size_t blobs_skipped = 0;    // the server stored them already: named, not uploaded
  uint64_t bytes_skipped = 0;
};

json::Value PublishJson(const PublishSummary& summary);
std::string PublishText(const PublishSummary& summary);

json::Value StatusJson(const std::string& server, const ::mdu::v1::RepositoryStatus& status);
std::string StatusText(const std::string& server, const ::mdu::v1::RepositoryStatus& status);

json::Value DevicesJson(const ::mdu::v1::ListDevicesResponse& devices);
std::string DevicesText(const ::mdu::v1::ListDevicesResponse& devices);

json::Value HistoryJson(const std::string& device_id, const ::mdu::v1::DeviceHistory& history);
std::string HistoryText(const std::string& device_id, const ::mdu::v1::DeviceHistory& history);

json::Value FailuresJson(const std::string& release, const ::mdu::v1::ListFailuresResponse& list);
std::string FailuresText(const std::string& release, const ::mdu::v1::ListFailuresResponse& list);

// Each record parsed from its canonical JSON (a record that does not parse is shown raw).
json::Value AuditJson(const std::vector<::mdu::v1::AuditRecordEntry>& records);
std::string AuditText(const std::vector<::mdu::v1::AuditRecordEntry>& records);

// The whole --json document as printed: indented, newline-terminated.
std::string JsonDocument(const json::Value& value);

}  // namespace mdu::ops

#endif  // MDU_REPO_SERVER_OPS_CLIENT_FORMAT_H_
