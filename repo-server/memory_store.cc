#include "repo-server/memory_store.h"

#include <mutex>
#include <set>
#include <utility>

namespace mdu::server {
namespace {

struct Blob {
  std::vector<std::string> chunks;
  uint64_t length = 0;
  bool committed = false;
};

struct State {
  std::mutex mu;
  std::map<std::pair<std::string, int64_t>, std::string> metadata;
  std::map<std::string, int64_t> current;
  std::map<std::string, Blob> blobs;                     // blob id -> chunks
  std::map<std::string, BlobInfo, std::less<>> targets;  // sha256 -> blob
  std::map<std::pair<ReportKind, std::string>, ReportRecord> reports;
  std::vector<std::pair<ReportKind, std::string>> arrival;  // report keys in order
  std::map<std::string, DeviceRecord> devices;
  std::map<uint64_t, std::string> audit;  // seq -> record bytes
  uint64_t next_blob = 1;
};

class MemoryBlobWriter final : public BlobWriter {
 public:
  MemoryBlobWriter(std::shared_ptr<State> state, std::string id)
      : state_(std::move(state)), id_(std::move(id)) {}

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      uint64_t room = kBlobChunkBytes - pending_.size();
      size_t take = static_cast<size_t>(std::min<uint64_t>(room, data.size()));
      pending_.append(data.substr(0, take));
      data.remove_prefix(take);
      if (pending_.size() == kBlobChunkBytes) Flush();
    }
    return {};
  }

  Result<std::string> Finish() override {
    if (!pending_.empty()) Flush();
    return id_;
  }

 private:
  void Flush() {
    std::lock_guard lock(state_->mu);
    Blob& blob = state_->blobs[id_];
    blob.length += pending_.size();
    blob.chunks.push_back(std::move(pending_));
    pending_.clear();
  }

  std::shared_ptr<State> state_;
  std::string id_;
  std::string pending_;
};

class MemoryStore final : public Store {
 public:
  Status Commit(const PublishBatch& batch) override {
    std::lock_guard lock(state_->mu);
    for (const TargetRef& ref : batch.targets) {
      if (!state_->blobs.contains(ref.blob_id)) {
        return MakeError(ErrorKind::kInvalidArgument, "commit: unknown blob " + ref.blob_id);
      }
    }
    for (const MetadataEntry& entry : batch.metadata) {
      state_->metadata[{entry.role, entry.version}] = entry.bytes;
    }
    for (const auto& [role, version] : batch.current) state_->current[role] = version;
    for (const auto& [role, version] : batch.removed_metadata) {
      state_->metadata.erase({role, version});
    }
    if (batch.audit) state_->audit[batch.audit->seq] = batch.audit->bytes;
    for (const TargetRef& ref : batch.targets) {
      state_->blobs[ref.blob_id].committed = true;
      auto sha512 = batch.target_sha512.find(ref.sha256);
      state_->targets[ref.sha256] =
          BlobInfo{ref.blob_id, ref.length, kBlobChunkBytes,
                   sha512 == batch.target_sha512.end() ? std::string() : sha512->second};
    }
    return {};
  }

  Result<std::string> GetMetadata(std::string_view role, int64_t version) const override {
    std::lock_guard lock(state_->mu);
    auto it = state_->metadata.find({std::string(role), version});
    if (it == state_->metadata.end()) {
      return MakeError(ErrorKind::kNotFound,
                       "no metadata " + std::to_string(version) + "." + std::string(role));
    }
    return it->second;
  }

  Result<std::map<std::string, int64_t>> CurrentVersions() const override {
    std::lock_guard lock(state_->mu);
    return state_->current;
  }

  Result<std::vector<MetadataEntry>> AllMetadata() const override {
    std::lock_guard lock(state_->mu);
    std::vector<MetadataEntry> out;
    for (const auto& [key, bytes] : state_->metadata) {
      out.push_back(MetadataEntry{key.first, key.second, bytes});
    }
    return out;
  }

  Result<std::unique_ptr<BlobWriter>> NewBlob() override {
    std::string id;
    {
      std::lock_guard lock(state_->mu);
      id = "mem-" + std::to_string(state_->next_blob++);
      state_->blobs[id];
    }
    return std::unique_ptr<BlobWriter>(std::make_unique<MemoryBlobWriter>(state_, id));
  }

  Status DiscardBlob(std::string_view blob_id) override {
    std::lock_guard lock(state_->mu);
    auto it = state_->blobs.find(std::string(blob_id));
    if (it == state_->blobs.end()) return {};
    if (it->second.committed) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "discard: blob " + std::string(blob_id) + " is committed");
    }
    state_->blobs.erase(it);
    return {};
  }

  Result<BlobInfo> GetTarget(std::string_view sha256) const override {
    std::lock_guard lock(state_->mu);
    auto it = state_->targets.find(sha256);
    if (it == state_->targets.end()) {
      return MakeError(ErrorKind::kNotFound, "no target with sha256 " + std::string(sha256));
    }
    return it->second;
  }

  Result<uint64_t> TargetCount() const override {
    std::lock_guard lock(state_->mu);
    return static_cast<uint64_t>(state_->targets.size());
  }

  Result<std::string> ReadBlobChunk(std::string_view blob_id, uint64_t index) const override {
    std::lock_guard lock(state_->mu);
    auto it = state_->blobs.find(std::string(blob_id));
    if (it == state_->blobs.end() || index >= it->second.chunks.size()) {
      return MakeError(ErrorKind::kNotFound,
                       "no chunk " + std::to_string(index) + " of blob " + std::string(blob_id));
    }
    return it->second.chunks[index];
  }

  Result<std::vector<bool>> PutReports(std::span<const ReportRecord> reports) override {
    std::lock_guard lock(state_->mu);
    std::vector<bool> stored(reports.size(), false);
    for (size_t i = 0; i < reports.size(); ++i) {
      const ReportRecord& report = reports[i];
      auto key = std::make_pair(report.kind, report.id);
      if (state_->reports.contains(key)) continue;
      ReportRecord record = report;
      record.sequence = state_->arrival.size() + 1;
      state_->reports.emplace(key, std::move(record));
      state_->arrival.push_back(key);
      if (report.kind != ReportKind::kSecurityEvent) {
        ApplyToDevice(report, state_->devices[report.device_id]);
      }
      stored[i] = true;
    }
    return stored;
  }

  Result<std::vector<ReportRecord>> ListReports(const ReportFilter& filter) const override {
    std::lock_guard lock(state_->mu);
    std::vector<ReportRecord> out;
    for (const auto& key : state_->arrival) {
      const ReportRecord& report = state_->reports.at(key);
      if (filter.Matches(report)) out.push_back(report);
    }
    return out;
  }

  Result<std::vector<DeviceRecord>> ListDevices() const override {
    std::lock_guard lock(state_->mu);
    std::vector<DeviceRecord> out;
    for (const auto& [id, device] : state_->devices) out.push_back(device);
    return out;
  }

  Status AppendAudit(const AuditRecord& record) override {
    std::lock_guard lock(state_->mu);
    state_->audit[record.seq] = record.bytes;
    return {};
  }

  Result<std::vector<AuditRecord>> ListAudit(uint64_t after_seq, size_t limit) const override {
    std::lock_guard lock(state_->mu);
    std::vector<AuditRecord> out;
    for (auto it = state_->audit.upper_bound(after_seq);
         it != state_->audit.end() && out.size() < limit; ++it) {
      out.push_back(AuditRecord{it->first, it->second});
    }
    return out;
  }

  Result<std::optional<AuditRecord>> LastAudit() const override {
    std::lock_guard lock(state_->mu);
    if (state_->audit.empty()) return std::optional<AuditRecord>();
    auto last = std::prev(state_->audit.end());
    return std::optional<AuditRecord>(AuditRecord{last->first, last->second});
  }

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace mdu::server
