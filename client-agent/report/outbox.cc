#include "client-agent/report/outbox.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <system_error>
#include <utility>

#include "core/common/hex.h"
#include "core/io/file.h"
#include "proto/report_signing.h"

namespace mdu::agent::report {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "mdu-outbox-v1 ";
constexpr std::string_view kSuffix = ".report";

bool IsIdentifier(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::string& MutableId(ReportMessage& message) {
  return std::visit(
      [](auto& m) -> std::string& {
        if constexpr (std::is_same_v<std::decay_t<decltype(m)>, wire::SecurityEvent>) {
          return *m.mutable_event_id();
        } else {
          return *m.mutable_report_id();
        }
      },
      message);
}

Result<ReportMessage> Parse(std::string_view bytes) {
  if (!bytes.starts_with(kMagic)) {
    return MakeError(ErrorKind::kBadMetadata, "not an outbox file (no mdu-outbox-v1 header)");
  }
  bytes.remove_prefix(kMagic.size());
  size_t newline = bytes.find('\n');
  if (newline == std::string_view::npos) {
    return MakeError(ErrorKind::kBadMetadata, "outbox file header has no end");
  }
  std::string_view kind = bytes.substr(0, newline);
  std::string_view body = bytes.substr(newline + 1);
  auto parse = [&](auto message) -> Result<ReportMessage> {
    if (!message.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
      return MakeError(ErrorKind::kBadMetadata,
                       "outbox file body is not a " + std::string(kind) + " message");
    }
    return ReportMessage(std::move(message));
  };
  if (kind == "installation") return parse(wire::InstallationReport());
  if (kind == "security_event") return parse(wire::SecurityEvent());
  if (kind == "inventory") return parse(wire::InventoryReport());
  return MakeError(ErrorKind::kBadMetadata, "unknown outbox kind " + std::string(kind));
}

Status MoveToRejected(const fs::path& directory, const fs::path& file, std::string_view reason) {
  const fs::path target = directory / "rejected" / file.filename();
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(target.string() + ".reason", reason));
  std::error_code ec;
  fs::rename(file, target, ec);
  if (ec) return MakeError(ErrorKind::kIo, "move " + file.string() + ": " + ec.message());
  MDU_RETURN_IF_ERROR(io::SyncDirectory(directory / "rejected"));
  return io::SyncDirectory(directory);
}

}  // namespace

std::string_view KindName(const ReportMessage& message) {
  switch (message.index()) {
    case 0:
      return "installation";
    case 1:
      return "security_event";
    default:
      return "inventory";
  }
}

const std::string& ReportId(const ReportMessage& message) {
  return MutableId(const_cast<ReportMessage&>(message));
}

const std::string& DeviceIdOf(const ReportMessage& message) {
  return std::visit([](const auto& m) -> const std::string& { return m.device_id(); }, message);
}

Result<std::string> NewReportId() {
  MDU_ASSIGN_OR_RETURN(std::string random, evidence::RandomBytes(16));
  return "r-" + HexEncode(random);
}

Result<Outbox> Outbox::Open(fs::path directory) {
  MDU_RETURN_IF_ERROR(io::CreateDirectories(directory / "rejected"));
  return Outbox(std::move(directory));
}

Result<std::string> Outbox::Enqueue(ReportMessage message) {
  std::string& id = MutableId(message);
  if (id.empty()) {
    MDU_ASSIGN_OR_RETURN(id, NewReportId());
  }
  if (!IsIdentifier(id)) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "report id must be 1..128 of [A-Za-z0-9._:-]: " + id.substr(0, 200));
  }
  std::string bytes(kMagic);
  bytes += KindName(message);
  bytes += '\n';
  std::visit([&](const auto& m) { bytes += m.SerializeAsString(); }, message);
  if (bytes.size() > kMaxFileBytes) {
    return MakeError(ErrorKind::kLimitExceeded, "report " + id + " is larger than 256 KiB");
  }
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%020lld", static_cast<long long>(now));
  MDU_RETURN_IF_ERROR(io::WriteFileAtomically(
      directory_ / (std::string(stamp) + "-" + id + std::string(kSuffix)), bytes, 0600));
  return id;
}

Result<std::vector<OutboxEntry>> Outbox::Pending() {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::directory_iterator it(directory_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    // Skips rejected/ and WriteFileAtomically's hidden temporary files.
    if (path.extension() == kSuffix && !path.filename().string().starts_with(".") &&
        it->is_regular_file()) {
      files.push_back(path);
    }
  }
  if (ec)
    return MakeError(ErrorKind::kIo, "list outbox " + directory_.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<OutboxEntry> out;
  for (const fs::path& file : files) {
    auto bytes = io::ReadFileBounded(file, kMaxFileBytes);
    Result<ReportMessage> message =
        bytes ? Parse(*bytes) : Result<ReportMessage>(MakeError(bytes.error()));
    if (!message) {
      if (message.error().kind() == ErrorKind::kNotFound) continue;  // removed meanwhile
      MDU_RETURN_IF_ERROR(MoveToRejected(directory_, file, message.error().ToString()));
      continue;
    }
    out.push_back(OutboxEntry{file, std::move(*message)});
  }
  return out;
}

Status Outbox::Remove(const OutboxEntry& entry) { return io::RemoveFileDurably(entry.file); }

Status Outbox::Reject(const OutboxEntry& entry, std::string_view reason) {
  return MoveToRejected(directory_, entry.file, reason);
}

}  // namespace mdu::agent::report
