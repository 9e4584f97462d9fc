#include "repo-server/audit_log.h"

#include <utility>

#include "core/crypto/hash.h"
#include "core/json/parser.h"
#include "core/json/writer.h"

namespace mdu::server {
namespace {

const std::string kZeroHash(64, '0');
constexpr size_t kVerifyPage = 1000;

// Canonical JSON writes strings' bytes raw, which strict JSON parsers (ours included) refuse for
// control characters and invalid UTF-8. Audit text comes from clients (error messages, names),
// so every byte outside printable ASCII is written as the text "\xHH": records stay parseable
// by any JSON reader and lose nothing.
std::string PrintableText(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

json::Value Printable(const json::Value& value) {
  switch (value.type()) {
    case json::Type::kString:
      return json::Value(PrintableText(value.as_string()));
    case json::Type::kArray: {
      json::Array items;
      for (const json::Value& item : value.as_array()) items.push_back(Printable(item));
      return json::Value(std::move(items));
    }
    case json::Type::kObject: {
      json::Object members;
      for (const auto& [key, member] : value.as_object()) {
        members.emplace_back(PrintableText(key), Printable(member));
      }
      return json::Value::MakeObject(std::move(members));
    }
    default:
      return value;
  }
}

std::string RecordBytes(uint64_t seq, int64_t time, std::string_view actor, std::string_view action,
                        const json::Value& detail, const std::string& prev) {
  return json::Canonical(json::Value::MakeObject({
      {"action", json::Value(PrintableText(action))},
      {"actor", json::Value(PrintableText(actor))},
      {"detail", Printable(detail)},
      {"prev_hash", json::Value(prev)},
      {"seq", json::Value(static_cast<int64_t>(seq))},
      {"time", json::Value(time)},
  }));
}

// Checks one record's shape and its link; returns its hash.
Result<std::string> CheckRecord(const AuditRecord& record, uint64_t expected_seq,
                                const std::string& prev_hash) {
  std::string where = "audit record " + std::to_string(record.seq);
  auto bad = [&where](const std::string& what) {
    return MakeError(ErrorKind::kBadMetadata, where + ": " + what);
  };
  if (record.seq != expected_seq) {
    return bad("expected record " + std::to_string(expected_seq) +
               " here (a record is missing or was inserted)");
  }
  auto parsed = json::Parse(record.bytes);
  if (!parsed) return bad("not JSON: " + parsed.error().message());
  if (!parsed->is_object() || parsed->as_object().size() != 6) {
    return bad("must be an object of exactly seq, time, actor, action, detail, prev_hash");
  }
  if (json::Canonical(*parsed) != record.bytes) return bad("not in canonical form (modified)");
  MDU_ASSIGN_OR_RETURN(int64_t seq, json::RequireInt(*parsed, "seq", where));
  MDU_ASSIGN_OR_RETURN(int64_t time, json::RequireInt(*parsed, "time", where));
  (void)time;
  MDU_ASSIGN_OR_RETURN(std::string actor, json::RequireString(*parsed, "actor", where));
  MDU_ASSIGN_OR_RETURN(std::string action, json::RequireString(*parsed, "action", where));
  MDU_ASSIGN_OR_RETURN(const json::Value* detail,
                       json::RequireField(*parsed, "detail", json::Type::kObject, where));
  (void)detail;
  MDU_ASSIGN_OR_RETURN(std::string prev, json::RequireString(*parsed, "prev_hash", where));
  if (seq < 0 || static_cast<uint64_t>(seq) != record.seq) {
    return bad("its seq field says " + std::to_string(seq) + " (modified or moved)");
  }
  if (prev != prev_hash) {
    std::string previous = record.seq == 1 ? std::string("the chain start")
                                           : "record " + std::to_string(record.seq - 1);
    return MakeError(ErrorKind::kHashMismatch, where + ": prev_hash does not match the hash of " +
                                                   previous + ": " + previous +
                                                   " was modified (or record " +
                                                   std::to_string(record.seq) + " was forged)");
  }
  return AuditRecordHash(record.bytes);
}

}  // namespace

std::string AuditRecordHash(std::string_view bytes) { return crypto::Sha256Hex(bytes); }

Result<std::unique_ptr<AuditLog>> AuditLog::Open(Store& store, const Clock& clock) {
  MDU_ASSIGN_OR_RETURN(std::optional<AuditRecord> last, store.LastAudit());
  std::unique_ptr<AuditLog> log(new AuditLog(store, clock));
  log->last_hash_ = kZeroHash;
  if (last) {
    log->last_seq_ = last->seq;
    log->last_hash_ = AuditRecordHash(last->bytes);
  }
  return log;
}

Status AuditLog::Append(std::string_view actor, std::string_view action, json::Value detail) {
  return AppendWith(actor, action, std::move(detail),
                    [this](const AuditRecord& record) { return store_.AppendAudit(record); });
}

Status AuditLog::AppendWith(std::string_view actor, std::string_view action, json::Value detail,
                            const Writer& write) {
  std::lock_guard lock(mu_);
  AuditRecord record;
  record.seq = last_seq_ + 1;
  record.bytes = RecordBytes(record.seq, clock_.Now(), actor, action, detail, last_hash_);
  MDU_RETURN_IF_ERROR(write(record));
  last_seq_ = record.seq;
  last_hash_ = AuditRecordHash(record.bytes);
  return {};
}

std::string AuditLog::head_hash() const {
  std::lock_guard lock(mu_);
  return last_hash_;
}

Result<AuditChainSummary> VerifyAuditChain(const Store& store) {
  AuditChainSummary summary;
  summary.head_hash = kZeroHash;
  for (;;) {
    MDU_ASSIGN_OR_RETURN(std::vector<AuditRecord> page,
                         store.ListAudit(summary.records, kVerifyPage));
    if (page.empty()) break;
    for (const AuditRecord& record : page) {
      MDU_ASSIGN_OR_RETURN(summary.head_hash,
                           CheckRecord(record, summary.records + 1, summary.head_hash));
      ++summary.records;
    }
  }
  return summary;
}

}  // namespace mdu::server
