// The persistent report outbox of the agent: every report (installation outcome, security
// event, inventory) is one file, written atomically before anything is sent, so reports survive
// a server outage, an agent crash or a power loss and are sent later. Each report carries a
// client-chosen unique id; the server stores a report once per id, so a report sent again after
// a crash between the server's acknowledgement and the file's removal is harmless (exactly once
// as seen by the server).
//
// Layout of the directory:
//   <20-digit enqueue time in ns>-<report id>.report   pending, sent in name (= enqueue) order
//   rejected/<same name>                                refused by the server for good (a bad
//                                                      request, not an outage), kept for support
//   rejected/<same name>.reason                        the server's message
// File content: "mdu-outbox-v1 <kind>\n" then the serialized protobuf message (kind:
// installation, security_event, inventory). The nonce and signature are not in the file: each
// send attempt asks for a fresh nonce and signs again.
//
// Thread-safety: one Outbox per directory and process at a time (the agent is one process).
#ifndef MDU_CLIENT_AGENT_REPORT_OUTBOX_H_
#define MDU_CLIENT_AGENT_REPORT_OUTBOX_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "client-agent/report/wire_messages.h"
#include "core/common/error.h"

namespace mdu::agent::report {

using ReportMessage =
    std::variant<wire::InstallationReport, wire::SecurityEvent, wire::InventoryReport>;

// "installation", "security_event" or "inventory".
std::string_view KindName(const ReportMessage& message);
// report_id / event_id and device_id of any kind.
const std::string& ReportId(const ReportMessage& message);
const std::string& DeviceIdOf(const ReportMessage& message);

struct OutboxEntry {
  std::filesystem::path file;
  ReportMessage message;
};

// A fresh report id: "r-" and 32 lowercase hex digits from the CSPRNG.
Result<std::string> NewReportId();

class Outbox {
 public:
  static constexpr uint64_t kMaxFileBytes = 256u << 10;

  // Creates the directory (and rejected/) if needed; kIo on failure.
  static Result<Outbox> Open(std::filesystem::path directory);

  // Gives the message a new report id if it has none, writes it durably; returns the id.
  // kInvalidArgument for an id that is not 1..128 of [A-Za-z0-9._:-].
  Result<std::string> Enqueue(ReportMessage message);

  // Pending reports, oldest first. A file that does not parse is moved to rejected/ (with a
  // reason) and skipped.
  Result<std::vector<OutboxEntry>> Pending();

  // The server acknowledged it: the file goes away (durably).
  Status Remove(const OutboxEntry& entry);
  // The server refused it for good: moved to rejected/ with `reason`.
  Status Reject(const OutboxEntry& entry, std::string_view reason);

  const std::filesystem::path& directory() const { return directory_; }

 private:
  explicit Outbox(std::filesystem::path directory) : directory_(std::move(directory)) {}
  std::filesystem::path directory_;
};

}  // namespace mdu::agent::report

#endif  // MDU_CLIENT_AGENT_REPORT_OUTBOX_H_
