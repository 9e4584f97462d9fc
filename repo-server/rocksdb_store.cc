#include "repo-server/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <charconv>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <utility>

namespace mdu::server {
namespace {

// Key layout (role names and ids never contain '/': the service validates them).
//   m/<role>/<version, 20 digits>   metadata bytes
//   c/<role>                        current version (decimal)
//   bm/<blob id>                    "s <length>" staged or "c <length>" committed
//   b/<blob id>/<index, 12 digits>  blob chunk
//   t/<sha256>                      "<blob id> <length> <sha512>" (sha512 absent in records
//                                   written before it was kept)
//   r/<kind>/<id>                   report record
//   ra/<sequence, 20 digits>        "<kind>/<id>": arrival order
//   rd/<device id>/<sequence>       "<kind>/<id>": the reports of a device, in arrival order
//   rr/<release length, 4 digits><release>/<sequence>   same, installation reports of a release
//   ix                              "1" once the rd/ and rr/ indexes cover every report
//   d/<device id>                   device record
//   fx/<term length, 4 digits><term>/<device id>   "": the device's inventory holds the term
//   fxi                             "1" once fx/ covers every device record
//   a/<seq, 20 digits>              audit record (canonical JSON)
std::string Padded(uint64_t value, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", width, static_cast<unsigned long long>(value));
  return buf;
}
std::string MetadataKey(std::string_view role, int64_t version) {
  return "m/" + std::string(role) + "/" + Padded(static_cast<uint64_t>(version), 20);
}
std::string ChunkKey(std::string_view blob_id, uint64_t index) {
  return "b/" + std::string(blob_id) + "/" + Padded(index, 12);
}
std::string BlobMetaKey(std::string_view blob_id) { return "bm/" + std::string(blob_id); }
char KindChar(ReportKind kind) {
  switch (kind) {
    case ReportKind::kInstallation:
      return 'i';
    case ReportKind::kSecurityEvent:
      return 's';
    case ReportKind::kInventory:
      return 'v';
  }
  return '?';
}
std::string ReportKey(ReportKind kind, std::string_view id) {
  return std::string("r/") + KindChar(kind) + "/" + std::string(id);
}
std::string DeviceIndexPrefix(std::string_view device_id) {
  return "rd/" + std::string(device_id) + "/";
}
// Releases are free text (may hold '/'): the length prefix keeps one release's keys from being
// a prefix of another's.
std::string ReleaseIndexPrefix(std::string_view release) {
  return "rr/" + Padded(release.size(), 4) + std::string(release) + "/";
}
// Terms are free text too (target names, versions): length-prefixed the same way.
std::string TermIndexPrefix(std::string_view term) {
  return "fx/" + Padded(term.size(), 4) + std::string(term) + "/";
}

template <class T>
bool ParseNumber(std::string_view text, T& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Records are a sequence of length-prefixed fields: "<decimal length>:<bytes>".
class Encoder {
 public:
  Encoder& Add(std::string_view field) {
    out_ += std::to_string(field.size());
    out_ += ':';
    out_ += field;
    return *this;
  }
  Encoder& Add(int64_t value) { return Add(std::to_string(value)); }
  Encoder& AddAll(const std::vector<std::string>& fields) {
    for (const std::string& field : fields) Add(field);
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool Next(std::string& field) {
    size_t colon = in_.find(':');
    size_t length = 0;
    if (colon == std::string_view::npos || !ParseNumber(in_.substr(0, colon), length) ||
        in_.size() - colon - 1 < length) {
      return false;
    }
    field.assign(in_.substr(colon + 1, length));
    in_.remove_prefix(colon + 1 + length);
    return true;
  }
  bool Next(int64_t& value) {
    std::string field;
    return Next(field) && ParseNumber(field, value);
  }
  // Fields added later are optional: records written before them simply end.
  bool Done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

std::string EncodeReport(const ReportRecord& r) {
  return Encoder()
      .Add(std::string(1, KindChar(r.kind)))
      .Add(r.id)
      .Add(r.device_id)
      .Add(r.release)
      .Add(r.success ? "1" : "0")
      .Add(r.received_time)
      .Add(static_cast<int64_t>(r.sequence))
      .Add(r.payload)
      .Add(r.verified ? "1" : "0")
      .Add(r.certificate_sha256)
      .Add(r.certificate_pem)
      .Take();
}

Result<ReportRecord> DecodeReport(std::string_view bytes) {
  Decoder d(bytes);
  ReportRecord r;
  std::string kind, success;
  int64_t sequence = 0;
  if (!d.Next(kind) || !d.Next(r.id) || !d.Next(r.device_id) || !d.Next(r.release) ||
      !d.Next(success) || !d.Next(r.received_time) || !d.Next(sequence) || !d.Next(r.payload)) {
    return MakeError(ErrorKind::kIo, "corrupt report record");
  }
  if (kind == "i") {
    r.kind = ReportKind::kInstallation;
  } else if (kind == "s") {
    r.kind = ReportKind::kSecurityEvent;
  } else if (kind == "v") {
    r.kind = ReportKind::kInventory;
  } else {
    return MakeError(ErrorKind::kIo, "corrupt report record: kind " + kind);
  }
  r.success = success == "1";
  r.sequence = static_cast<uint64_t>(sequence);
  if (!d.Done()) {
    std::string verified;
    if (!d.Next(verified) || !d.Next(r.certificate_sha256) || !d.Next(r.certificate_pem)) {
      return MakeError(ErrorKind::kIo, "corrupt report record evidence");
    }
    r.verified = verified == "1";
  }
  return r;
}

std::string EncodeDevice(const DeviceRecord& d) {
  return Encoder()
      .Add(d.device_id)
      .Add(d.installed_version)
      .Add(d.last_report_id)
      .Add(d.last_report_time)
      .Add(d.last_success ? "1" : "0")
      .Add(d.last_payload)
      .Add(d.inventory_payload)
      .Add(d.inventory_time)
      .Add(d.certificate_sha256)
      .Add(static_cast<int64_t>(d.inventory_terms.size()))
      .AddAll(d.inventory_terms)
      .Take();
}

// `terms_recorded` (optional): false for a record written before inventory terms were kept.
Result<DeviceRecord> DecodeDevice(std::string_view bytes, bool* terms_recorded = nullptr) {
  Decoder dec(bytes);
  DeviceRecord d;
  std::string success;
  if (!dec.Next(d.device_id) || !dec.Next(d.installed_version) || !dec.Next(d.last_report_id) ||
      !dec.Next(d.last_report_time) || !dec.Next(success) || !dec.Next(d.last_payload)) {
    return MakeError(ErrorKind::kIo, "corrupt device record");
  }
  d.last_success = success == "1";
  if (!dec.Done() && (!dec.Next(d.inventory_payload) || !dec.Next(d.inventory_time) ||
                      !dec.Next(d.certificate_sha256))) {
    return MakeError(ErrorKind::kIo, "corrupt device record inventory");
  }
  if (terms_recorded != nullptr) *terms_recorded = !dec.Done();
  if (!dec.Done()) {
    int64_t count = 0;
    if (!dec.Next(count) || count < 0 || count > 4096) {
      return MakeError(ErrorKind::kIo, "corrupt device record terms");
    }
    d.inventory_terms.resize(static_cast<size_t>(count));
    for (std::string& term : d.inventory_terms) {
      if (!dec.Next(term)) return MakeError(ErrorKind::kIo, "corrupt device record terms");
    }
  }
  return d;
}

Unexpected<Error> IoError(std::string_view operation, const rocksdb::Status& status) {
  return MakeError(ErrorKind::kIo, "rocksdb " + std::string(operation) + ": " + status.ToString());
}

class RocksDbStore final : public Store {
 public:
  explicit RocksDbStore(std::unique_ptr<rocksdb::DB> db) : db_(std::move(db)) {
    sync_.sync = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev("ra/~");
    if (it->Valid() && it->key().starts_with("ra/")) {
      std::string_view key(it->key().data(), it->key().size());
      (void)ParseNumber(key.substr(3), next_sequence_);
    }
    ++next_sequence_;
  }

  Status Commit(const PublishBatch& batch) override {
    std::lock_guard lock(write_mu_);
    rocksdb::WriteBatch wb;
    for (const TargetRef& ref : batch.targets) {
      std::string meta;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), BlobMetaKey(ref.blob_id), &meta);
      if (s.IsNotFound()) {
        return MakeError(ErrorKind::kInvalidArgument, "commit: unknown blob " + ref.blob_id);
      }
      if (!s.ok()) return IoError("commit", s);
      wb.Put(BlobMetaKey(ref.blob_id), "c " + std::to_string(ref.length));
      std::string target = ref.blob_id + " " + std::to_string(ref.length);
      if (auto sha512 = batch.target_sha512.find(ref.sha256);
          sha512 != batch.target_sha512.end() && !sha512->second.empty()) {
        target += " " + sha512->second;
      }
      wb.Put("t/" + ref.sha256, target);
    }
    for (const MetadataEntry& entry : batch.metadata) {
      wb.Put(MetadataKey(entry.role, entry.version), entry.bytes);
    }
    for (const auto& [role, version] : batch.current) {
      wb.Put("c/" + role, std::to_string(version));
    }
    for (const auto& [role, version] : batch.removed_metadata) {
      wb.Delete(MetadataKey(role, version));
    }
    if (batch.audit) wb.Put("a/" + Padded(batch.audit->seq, 20), batch.audit->bytes);
    rocksdb::Status s = db_->Write(sync_, &wb);
    if (!s.ok()) return IoError("commit", s);
    return {};
  }

  Result<std::string> GetMetadata(std::string_view role, int64_t version) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MetadataKey(role, version), &value);
    if (s.IsNotFound()) {
      return MakeError(ErrorKind::kNotFound,
                       "no metadata " + std::to_string(version) + "." + std::string(role));
    }
    if (!s.ok()) return IoError("get metadata", s);
    return value;
  }

  Result<std::map<std::string, int64_t>> CurrentVersions() const override {
    std::map<std::string, int64_t> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("c/"); it->Valid() && it->key().starts_with("c/"); it->Next()) {
      int64_t version = 0;
      if (!ParseNumber(it->value().ToStringView(), version)) {
        return MakeError(ErrorKind::kIo, "corrupt current version of " + it->key().ToString());
      }
      out[it->key().ToString().substr(2)] = version;
    }
    if (!it->status().ok()) return IoError("list current", it->status());
    return out;
  }

  Result<std::vector<MetadataEntry>> AllMetadata() const override {
    std::vector<MetadataEntry> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("m/"); it->Valid() && it->key().starts_with("m/"); it->Next()) {
      std::string key = it->key().ToString();
      size_t slash = key.rfind('/');
      MetadataEntry entry;
      entry.role = key.substr(2, slash - 2);
      if (slash <= 2 || !ParseNumber(std::string_view(key).substr(slash + 1), entry.version)) {
        return MakeError(ErrorKind::kIo, "corrupt metadata key " + key);
      }
      entry.bytes = it->value().ToString();
      out.push_back(std::move(entry));
    }
    if (!it->status().ok()) return IoError("list metadata", it->status());
    return out;
  }

  Result<std::unique_ptr<BlobWriter>> NewBlob() override;

  // At open no publish is in flight, so every staged blob is garbage from a publish that was
  // interrupted (crash, kill -9) before its commit.
  Status DropStagedBlobs() {
    std::vector<std::string> staged;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("bm/"); it->Valid() && it->key().starts_with("bm/"); it->Next()) {
      if (it->value().starts_with("s")) staged.push_back(it->key().ToString().substr(3));
    }
    if (!it->status().ok()) return IoError("scan staged blobs", it->status());
    for (const std::string& id : staged) MDU_RETURN_IF_ERROR(DiscardBlob(id));
    return {};
  }

  // Stores written before the rd/ and rr/ indexes existed get them once, at open.
  Status BuildReportIndexes() {
    std::string marker;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "ix", &marker);
    if (s.ok()) return {};
    if (!s.IsNotFound()) return IoError("read index marker", s);
    rocksdb::WriteBatch wb;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("ra/"); it->Valid() && it->key().starts_with("ra/"); it->Next()) {
      std::string bytes;
      s = db_->Get(rocksdb::ReadOptions(), it->value(), &bytes);
      if (!s.ok()) return IoError("index reports", s);
      MDU_ASSIGN_OR_RETURN(ReportRecord record, DecodeReport(bytes));
      const std::string sequence = Padded(record.sequence, 20);
      const std::string key = it->value().ToString();
      wb.Put(DeviceIndexPrefix(record.device_id) + sequence, key);
      if (record.kind == ReportKind::kInstallation) {
        wb.Put(ReleaseIndexPrefix(record.release) + sequence, key);
      }
    }
    if (!it->status().ok()) return IoError("index reports", it->status());
    wb.Put("ix", "1");
    s = db_->Write(sync_, &wb);
    if (!s.ok()) return IoError("index reports", s);
    return {};
  }

  Status DiscardBlob(std::string_view blob_id) override {
    std::lock_guard lock(write_mu_);
    std::string meta;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), BlobMetaKey(blob_id), &meta);
    if (s.IsNotFound()) return {};
    if (!s.ok()) return IoError("discard blob", s);
    if (meta.starts_with("c")) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "discard: blob " + std::string(blob_id) + " is committed");
    }
    rocksdb::WriteBatch wb;
    std::string prefix = "b/" + std::string(blob_id) + "/";
    wb.DeleteRange(prefix, prefix + "~");
    wb.Delete(BlobMetaKey(blob_id));
    s = db_->Write(rocksdb::WriteOptions(), &wb);
    if (!s.ok()) return IoError("discard blob", s);
    return {};
  }

  Result<BlobInfo> GetTarget(std::string_view sha256) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "t/" + std::string(sha256), &value);
    if (s.IsNotFound()) {
      return MakeError(ErrorKind::kNotFound, "no target with sha256 " + std::string(sha256));
    }
    if (!s.ok()) return IoError("get target", s);
    size_t space = value.find(' ');
    size_t second = space == std::string::npos ? space : value.find(' ', space + 1);
    BlobInfo info;
    if (space == std::string::npos ||
        !ParseNumber(std::string_view(value).substr(space + 1, second == std::string::npos
                                                                   ? std::string::npos
                                                                   : second - space - 1),
                     info.length)) {
      return MakeError(ErrorKind::kIo, "corrupt target record for " + std::string(sha256));
    }
    info.blob_id = value.substr(0, space);
    if (second != std::string::npos) info.sha512 = value.substr(second + 1);
    return info;
  }

  Result<uint64_t> TargetCount() const override {
    uint64_t count = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("t/"); it->Valid() && it->key().starts_with("t/"); it->Next()) ++count;
    if (!it->status().ok()) return IoError("count targets", it->status());
    return count;
  }

  Result<std::string> ReadBlobChunk(std::string_view blob_id, uint64_t index) const override {
    // Chunks are read once per download, in order: keeping their 1 MiB blocks out of the block
    // cache leaves it to metadata and reports (the OS page cache still holds hot targets).
    rocksdb::ReadOptions read;
    read.fill_cache = false;
    std::string value;
    rocksdb::Status s = db_->Get(read, ChunkKey(blob_id, index), &value);
    if (s.IsNotFound()) {
      return MakeError(ErrorKind::kNotFound,
                       "no chunk " + std::to_string(index) + " of blob " + std::string(blob_id));
    }
    if (!s.ok()) return IoError("read chunk", s);
    return value;
  }

  // One WriteBatch for the whole group: every report, its arrival/device/release index entries
  // and the final state of each touched device record, then one WAL sync.
  Result<std::vector<bool>> PutReports(std::span<const ReportRecord> reports) override {
    std::lock_guard lock(write_mu_);
    std::vector<bool> stored(reports.size(), false);
    std::set<std::string> keys;                   // stored by this call
    std::map<std::string, DeviceRecord> devices;  // device id -> record as updated so far
    std::map<std::string, std::vector<std::string>> old_terms;  // device id -> terms indexed
    uint64_t next = next_sequence_;
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < reports.size(); ++i) {
      const ReportRecord& report = reports[i];
      std::string key = ReportKey(report.kind, report.id);
      if (keys.contains(key)) continue;
      std::string existing;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &existing);
      if (s.ok()) continue;
      if (!s.IsNotFound()) return IoError("put report", s);
      ReportRecord record = report;
      record.sequence = next++;
      const std::string sequence = Padded(record.sequence, 20);
      wb.Put(key, EncodeReport(record));
      wb.Put("ra/" + sequence, key);
      wb.Put(DeviceIndexPrefix(record.device_id) + sequence, key);
      if (record.kind == ReportKind::kInstallation) {
        wb.Put(ReleaseIndexPrefix(record.release) + sequence, key);
      }
      if (record.kind != ReportKind::kSecurityEvent) {
        auto [device, inserted] = devices.try_emplace(record.device_id);
        if (inserted) {
          std::string bytes;
          s = db_->Get(rocksdb::ReadOptions(), "d/" + record.device_id, &bytes);
          if (s.ok()) {
            MDU_ASSIGN_OR_RETURN(device->second, DecodeDevice(bytes));
          } else if (!s.IsNotFound()) {
            return IoError("put report", s);
          }
          old_terms[record.device_id] = device->second.inventory_terms;
        }
        ApplyToDevice(record, device->second);
      }
      keys.insert(std::move(key));
      stored[i] = true;
    }
    if (keys.empty()) return stored;  // only resends: nothing to write
    for (const auto& [id, device] : devices) {
      wb.Put("d/" + id, EncodeDevice(device));
      // The FindDevices index follows the inventory in the same batch.
      const std::set<std::string> before(old_terms[id].begin(), old_terms[id].end());
      const std::set<std::string> after(device.inventory_terms.begin(),
                                        device.inventory_terms.end());
      for (const std::string& term : before) {
        if (!after.contains(term)) wb.Delete(TermIndexPrefix(term) + id);
      }
      for (const std::string& term : after) {
        if (!before.contains(term)) wb.Put(TermIndexPrefix(term) + id, "");
      }
    }
    rocksdb::Status s = db_->Write(sync_, &wb);
    if (!s.ok()) return IoError("put report", s);
    next_sequence_ = next;
    return stored;
  }

  Result<std::vector<ReportRecord>> ListReports(const ReportFilter& filter) const override {
    std::vector<ReportRecord> out;
    // One consistent view across the index and the records.
    const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
    rocksdb::ReadOptions read;
    read.snapshot = snapshot;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
    Status status;
    // The narrowest index that covers the filter; every index maps to "<kind>/<id>" keys.
    std::string prefix = "ra/";
    if (filter.device_id) {
      prefix = DeviceIndexPrefix(*filter.device_id);
    } else if (filter.release && filter.kind == ReportKind::kInstallation) {
      prefix = ReleaseIndexPrefix(*filter.release);
    }
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string bytes;
      rocksdb::Status s = db_->Get(read, it->value(), &bytes);
      if (!s.ok()) {
        status = IoError("list reports", s);
        break;
      }
      auto record = DecodeReport(bytes);
      if (!record) {
        status = MakeError(record.error());
        break;
      }
      if (filter.Matches(*record)) out.push_back(std::move(*record));
    }
    if (status && !it->status().ok()) status = IoError("list reports", it->status());
    it.reset();
    db_->ReleaseSnapshot(snapshot);
    if (!status) return MakeError(std::move(status).error());
    return out;
  }

  Result<std::vector<DeviceRecord>> ListDevicesPage(std::string_view after_device_id,
                                                    size_t limit) const override {
    std::vector<DeviceRecord> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    const std::string after = "d/" + std::string(after_device_id);
    it->Seek(after);
    if (it->Valid() && !after_device_id.empty() && it->key() == rocksdb::Slice(after)) it->Next();
    for (; it->Valid() && it->key().starts_with("d/") && out.size() < limit; it->Next()) {
      MDU_ASSIGN_OR_RETURN(DeviceRecord device, DecodeDevice(it->value().ToStringView()));
      out.push_back(std::move(device));
    }
    if (!it->status().ok()) return IoError("list devices", it->status());
    return out;
  }

  Result<std::vector<DeviceRecord>> FindDevicesByTerm(std::string_view term) const override {
    if (!inventory_indexed_) return ListDevices();  // older records not indexed: all candidates
    std::vector<DeviceRecord> out;
    const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
    rocksdb::ReadOptions read;
    read.snapshot = snapshot;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
    const std::string prefix = TermIndexPrefix(term);
    Status status;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string bytes;
      std::string id = it->key().ToString().substr(prefix.size());
      rocksdb::Status s = db_->Get(read, "d/" + id, &bytes);
      if (!s.ok()) {
        status = IoError("find devices", s);
        break;
      }
      auto device = DecodeDevice(bytes);
      if (!device) {
        status = MakeError(device.error());
        break;
      }
      out.push_back(std::move(*device));
    }
    if (status && !it->status().ok()) status = IoError("find devices", it->status());
    it.reset();
    db_->ReleaseSnapshot(snapshot);
    if (!status) return MakeError(std::move(status).error());
    return out;
  }

  // Device records written before the fx/ index existed get their terms and index entries
  // once, at open (with `terms`; without it the index stays partial and FindDevicesByTerm
  // returns every device).
  Status BuildInventoryIndex(const InventoryTermsFn& terms) {
    std::string marker;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "fxi", &marker);
    if (s.ok()) {
      inventory_indexed_ = true;
      return {};
    }
    if (!s.IsNotFound()) return IoError("read inventory index marker", s);
    rocksdb::WriteBatch wb;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("d/"); it->Valid() && it->key().starts_with("d/"); it->Next()) {
      bool recorded = false;
      MDU_ASSIGN_OR_RETURN(DeviceRecord device,
                           DecodeDevice(it->value().ToStringView(), &recorded));
      if (recorded) continue;
      if (!device.inventory_payload.empty()) {
        if (!terms) return {};  // cannot index it: stay on full scans
        device.inventory_terms = terms(device.inventory_payload);
      }
      for (const std::string& term : device.inventory_terms) {
        wb.Put(TermIndexPrefix(term) + device.device_id, "");
      }
      wb.Put(it->key(), EncodeDevice(device));
    }
    if (!it->status().ok()) return IoError("index inventories", it->status());
    wb.Put("fxi", "1");
    s = db_->Write(sync_, &wb);
    if (!s.ok()) return IoError("index inventories", s);
    inventory_indexed_ = true;
    return {};
  }

  Result<std::vector<DeviceRecord>> ListDevices() const override {
    std::vector<DeviceRecord> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("d/"); it->Valid() && it->key().starts_with("d/"); it->Next()) {
      MDU_ASSIGN_OR_RETURN(DeviceRecord device, DecodeDevice(it->value().ToStringView()));
      out.push_back(std::move(device));
    }
    if (!it->status().ok()) return IoError("list devices", it->status());
    return out;
  }

  Status AppendAudit(const AuditRecord& record) override {
    rocksdb::Status s = db_->Put(sync_, "a/" + Padded(record.seq, 20), record.bytes);
    if (!s.ok()) return IoError("append audit", s);
    return {};
  }

  Result<std::vector<AuditRecord>> ListAudit(uint64_t after_seq, size_t limit) const override {
    std::vector<AuditRecord> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek("a/" + Padded(after_seq + 1, 20));
         it->Valid() && it->key().starts_with("a/") && out.size() < limit; it->Next()) {
      AuditRecord record;
      if (!ParseNumber(it->key().ToStringView().substr(2), record.seq)) {
        return MakeError(ErrorKind::kIo, "corrupt audit key " + it->key().ToString());
      }
      record.bytes = it->value().ToString();
      out.push_back(std::move(record));
    }
    if (!it->status().ok()) return IoError("list audit", it->status());
    return out;
  }

  Result<std::optional<AuditRecord>> LastAudit() const override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev("a/~");
    if (!it->status().ok()) return IoError("last audit", it->status());
    if (!it->Valid() || !it->key().starts_with("a/")) return std::optional<AuditRecord>();
    AuditRecord record;
    if (!ParseNumber(it->key().ToStringView().substr(2), record.seq)) {
      return MakeError(ErrorKind::kIo, "corrupt audit key " + it->key().ToString());
    }
    record.bytes = it->value().ToString();
    return std::optional<AuditRecord>(std::move(record));
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions sync_;
  std::mutex write_mu_;  // serializes read-modify-write sequences (idempotent reports, commit)
  uint64_t next_sequence_ = 0;
  bool inventory_indexed_ = false;  // fx/ covers every device record (set at open)
};

class RocksDbBlobWriter final : public BlobWriter {
 public:
  RocksDbBlobWriter(rocksdb::DB& db, std::string id) : db_(db), id_(std::move(id)) {}

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      uint64_t room = kBlobChunkBytes - pending_.size();
      size_t take = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
      pending_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (pending_.size() == kBlobChunkBytes) MDU_RETURN_IF_ERROR(Flush());
    }
    return {};
  }

  Result<std::string> Finish() override {
    if (!pending_.empty()) MDU_RETURN_IF_ERROR(Flush());
    return id_;
  }

 private:
  Status Flush() {
    length_ += pending_.size();
    rocksdb::WriteBatch wb;
    wb.Put(ChunkKey(id_, index_++), pending_);
    wb.Put(BlobMetaKey(id_), "s " + std::to_string(length_));
    rocksdb::Status s = db_.Write(rocksdb::WriteOptions(), &wb);
    pending_.clear();
    if (!s.ok()) return IoError("write blob chunk", s);
    return {};
  }

  rocksdb::DB& db_;
  std::string id_;
  std::string pending_;
  uint64_t index_ = 0;
  uint64_t length_ = 0;
};

Result<std::unique_ptr<BlobWriter>> RocksDbStore::NewBlob() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", random());
    id += part;
  }
  // Registered at once so that an empty blob exists and Commit can check it.
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), BlobMetaKey(id), "s 0");
  if (!s.ok()) return IoError("new blob", s);
  return std::unique_ptr<BlobWriter>(std::make_unique<RocksDbBlobWriter>(*db_, id));
}

}  // namespace

Result<std::unique_ptr<Store>> OpenRocksDbStore(const std::filesystem::path& dir,
                                                const InventoryTermsFn& inventory_terms) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kLZ4Compression;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!s.ok()) {
    return MakeError(ErrorKind::kIo, "open store " + dir.string() + ": " + s.ToString());
  }
  auto store = std::make_unique<RocksDbStore>(std::unique_ptr<rocksdb::DB>(raw));
  MDU_RETURN_IF_ERROR(store->DropStagedBlobs());
  MDU_RETURN_IF_ERROR(store->BuildReportIndexes());
  MDU_RETURN_IF_ERROR(store->BuildInventoryIndex(inventory_terms));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace mdu::server
