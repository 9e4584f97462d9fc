// The server's persistent state behind one narrow interface, with a RocksDB implementation
// (repo-server/rocksdb_store.h, the default) and an in-memory twin (repo-server/memory_store.h)
// for tests. Both pass the same suite (tests/unit/server_store).
//
// What it holds:
//   metadata   opaque bytes by (role, version), plus a "current" version per role;
//   blobs      target content in chunks (never a whole 1 GiB blob in memory), first written
//              under a private blob id ("staged"), then made visible as a target by sha256 only
//              by the Commit that publishes the metadata naming it;
//   reports    installation reports and security events keyed by their client-chosen id
//              (a duplicate id is stored once), and a per-device summary;
//   audit      the hash-chained audit log's records by sequence number.
//
// Atomicity: Commit applies a whole publish (metadata, current pointers, target references) as
// one write: after a crash the store holds the old repository or the new one, never a mix.
// Staged blobs that no Commit references are garbage: a rejected publish discards them
// (DiscardBlob); RocksDbStore drops those left by a crash when it opens.
//
// Errors: kNotFound for a missing key; kIo for backend failures (message names the operation);
// kInvalidArgument for misuse (e.g. unknown staged blob id in a Commit).
//
// Thread-safety: every method may be called concurrently from any thread. A BlobWriter is used
// by one thread at a time. Readers see either all or none of a Commit.
#ifndef MDU_REPO_SERVER_STORE_H_
#define MDU_REPO_SERVER_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.h"

namespace mdu::server {

// Target blobs are stored and streamed in chunks of this size (the API's limit per chunk).
inline constexpr uint64_t kBlobChunkBytes = 1u << 20;

struct MetadataEntry {
  std::string role;  // "root", "timestamp", "snapshot", "targets" or a delegated role
  int64_t version = 0;
  std::string bytes;
};

// A target blob made visible by a Commit: `blob_id` (from BlobWriter::Finish) becomes
// addressable as `sha256`.
struct TargetRef {
  std::string sha256;
  std::string blob_id;
  uint64_t length = 0;
};

// One record of the audit log (repo-server/audit_log.h): `bytes` is its canonical JSON; the
// store keeps records by `seq` and does not interpret them.
struct AuditRecord {
  uint64_t seq = 0;  // 1, 2, 3, ...
  std::string bytes;
};

struct PublishBatch {
  std::vector<MetadataEntry> metadata;
  std::map<std::string, int64_t> current;  // role -> version now current
  std::vector<TargetRef> targets;
  std::optional<AuditRecord> audit;  // written in the same write as the publish
  // (role, version) of superseded metadata deleted in the same write (timestamp history
  // pruning: Repository::set_timestamp_history). Never a current version.
  std::vector<std::pair<std::string, int64_t>> removed_metadata;
  // sha256 -> sha512 (lowercase hex, computed while receiving) of targets this batch commits;
  // kept with the target so later publishes can check metadata against it (BlobInfo::sha512).
  std::map<std::string, std::string, std::less<>> target_sha512;
};

struct BlobInfo {
  std::string blob_id;
  uint64_t length = 0;
  uint64_t chunk_bytes = kBlobChunkBytes;  // every chunk but the last has exactly this size
  // sha512 of the content as computed when it was received; "" for blobs committed before the
  // store recorded it (the Repository then hashes the chunks when it needs it).
  std::string sha512;
};

// Writes one blob in chunks. Append buffers at most one chunk; full chunks go to the store.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Status Append(std::string_view data) = 0;
  // Flushes the last chunk; returns the blob id to name in TargetRef. The writer is done.
  virtual Result<std::string> Finish() = 0;
};

enum class ReportKind { kInstallation, kSecurityEvent, kInventory };

// A device report as stored. `payload` is the serialized report (the service's wire format:
// the store does not interpret it); the other fields are what the store indexes on.
struct ReportRecord {
  ReportKind kind = ReportKind::kInstallation;
  std::string id;  // client-chosen, unique per kind
  std::string device_id;
  std::string release;        // to_version for installations, empty for security events
  bool success = true;        // installations: outcome; security events: always false
  int64_t received_time = 0;  // server clock, seconds since the Unix epoch
  uint64_t sequence = 0;      // assigned by the store: order of arrival (set on return of List*)
  std::string payload;
  // Device evidence (repo-server/device_evidence.h): the signature (inside `payload`) was
  // verified with this client certificate.
  bool verified = false;
  std::string certificate_sha256;
  std::string certificate_pem;
  // Inventory reports: the terms FindDevicesByTerm looks them up by (the service derives them
  // from the payload: InventoryIndexTerms in repo-server/service.h). Kept with the device, not
  // with the report.
  std::vector<std::string> index_terms;
};

// Per-device summary, updated by PutReport in the same write as the report.
struct DeviceRecord {
  std::string device_id;
  std::string installed_version;  // release of the last successful installation report
  std::string last_report_id;
  int64_t last_report_time = 0;
  bool last_success = true;
  std::string last_payload;       // payload of the last installation report
  std::string inventory_payload;  // payload of the last inventory report ("" if none)
  int64_t inventory_time = 0;
  std::string certificate_sha256;  // of the last verified report of any kind
  std::vector<std::string> inventory_terms;  // index_terms of the last inventory report
};

// How PutReport updates a device's summary with a newly stored installation or inventory report
// (shared by the backends).
inline void ApplyToDevice(const ReportRecord& report, DeviceRecord& device) {
  device.device_id = report.device_id;
  if (report.verified) device.certificate_sha256 = report.certificate_sha256;
  if (report.kind == ReportKind::kInventory) {
    device.inventory_payload = report.payload;
    device.inventory_time = report.received_time;
    device.inventory_terms = report.index_terms;
    return;
  }
  if (report.success) device.installed_version = report.release;
  device.last_report_id = report.id;
  device.last_report_time = report.received_time;
  device.last_success = report.success;
  device.last_payload = report.payload;
}

struct ReportFilter {
  ReportKind kind = ReportKind::kInstallation;
  std::optional<std::string> device_id;
  std::optional<std::string> release;
  std::optional<bool> success;

  bool Matches(const ReportRecord& report) const {
    return report.kind == kind && (!device_id || report.device_id == *device_id) &&
           (!release || report.release == *release) && (!success || report.success == *success);
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // All-or-nothing write of a publish. kInvalidArgument if a TargetRef names an unknown blob.
  virtual Status Commit(const PublishBatch& batch) = 0;
  // The bytes of (role, version); kNotFound if absent.
  virtual Result<std::string> GetMetadata(std::string_view role, int64_t version) const = 0;
  // role -> current version (empty before the first Commit).
  virtual Result<std::map<std::string, int64_t>> CurrentVersions() const = 0;
  // Every stored metadata version of every role (for rebuilding the served view at start).
  virtual Result<std::vector<MetadataEntry>> AllMetadata() const = 0;

  virtual Result<std::unique_ptr<BlobWriter>> NewBlob() = 0;
  // Deletes a staged blob (rejected publish). Discarding a committed blob is kInvalidArgument.
  virtual Status DiscardBlob(std::string_view blob_id) = 0;
  // The committed blob for a sha256 (lowercase hex); kNotFound if none.
  virtual Result<BlobInfo> GetTarget(std::string_view sha256) const = 0;
  // Number of committed targets.
  virtual Result<uint64_t> TargetCount() const = 0;
  // Chunk `index` of a blob (staged or committed); kNotFound past the end.
  virtual Result<std::string> ReadBlobChunk(std::string_view blob_id, uint64_t index) const = 0;

  // Stores several reports in one synced write (the group commit of repo-server/report_writer.h).
  // Each report is stored unless one of the same kind and id exists, in the store or earlier in
  // `reports`; element i of the result is true if reports[i] was newly stored. In the same write,
  // updates each device's DeviceRecord (created by installation and inventory reports; security
  // events leave it alone) in the order of `reports`: installation reports set the last_*
  // fields, inventory reports replace the inventory, and either sets certificate_sha256 when
  // verified. Indexes are part of the same write. An error means nothing of the call was stored.
  virtual Result<std::vector<bool>> PutReports(std::span<const ReportRecord> reports) = 0;
  // One report: PutReports of one. True if newly stored.
  Result<bool> PutReport(const ReportRecord& report) {
    MDU_ASSIGN_OR_RETURN(std::vector<bool> stored, PutReports(std::span(&report, 1)));
    return stored.front();
  }
  // Matching reports in order of arrival. Filters naming a device or a release use an index
  // (RocksDbStore), the others scan every report.
  virtual Result<std::vector<ReportRecord>> ListReports(const ReportFilter& filter) const = 0;
  virtual Result<std::vector<DeviceRecord>> ListDevices() const = 0;
  // At most `limit` devices whose id sorts after `after_device_id` ("" = from the first), by
  // device id: the pages of OperatorService.ListDevices. The default filters ListDevices();
  // RocksDbStore seeks.
  virtual Result<std::vector<DeviceRecord>> ListDevicesPage(std::string_view after_device_id,
                                                            size_t limit) const {
    MDU_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, ListDevices());
    std::vector<DeviceRecord> out;
    for (DeviceRecord& device : all) {
      if (out.size() >= limit) break;
      if (device.device_id > after_device_id) out.push_back(std::move(device));
    }
    return out;
  }

  // The devices whose current inventory_terms hold `term`, by device id ("which devices run
  // X"). The index entries are written in PutReports' batch with the inventory, so a device
  // that reports an inventory without the term is no longer found. A store may return more
  // devices than match (RocksDbStore before its index covers older records: every device);
  // callers filter. The default scans ListDevices().
  virtual Result<std::vector<DeviceRecord>> FindDevicesByTerm(std::string_view term) const {
    MDU_ASSIGN_OR_RETURN(std::vector<DeviceRecord> all, ListDevices());
    std::vector<DeviceRecord> out;
    for (DeviceRecord& device : all) {
      for (const std::string& held : device.inventory_terms) {
        if (held == term) {
          out.push_back(std::move(device));
          break;
        }
      }
    }
    return out;
  }

  // Writes one audit record (synced). The caller (AuditLog) chooses seq; a record with the same
  // seq is overwritten (the chain verification is what detects tampering, not the store).
  virtual Status AppendAudit(const AuditRecord& record) = 0;
  // Records with seq > after_seq in seq order, at most `limit`.
  virtual Result<std::vector<AuditRecord>> ListAudit(uint64_t after_seq, size_t limit) const = 0;
  // The record with the highest seq, or nullopt for an empty log.
  virtual Result<std::optional<AuditRecord>> LastAudit() const = 0;
};

}  // namespace mdu::server

#endif  // MDU_REPO_SERVER_STORE_H_
