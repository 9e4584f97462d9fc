#include "repo-server/ops_client/uploader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "core/io/unique_fd.h"

namespace mdu::ops {
namespace {

namespace v1 = ::mdu::v1;

// A slow but steady link still finishes: 1 MiB/s is assumed at worst.
constexpr uint64_t kMinBytesPerSecond = 1u << 20;

// Reads up to `size` bytes at `offset` into `out`; the bytes read (0 at end of file).
Result<size_t> ReadAt(int fd, uint64_t offset, size_t size, std::string& out,
                      const std::string& what) {
  out.resize(size);
  size_t used = 0;
  while (used < size) {
    ssize_t n = ::pread(fd, out.data() + used, size - used, static_cast<off_t>(offset + used));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorKind::kIo, "reading " + what + ": " + std::strerror(errno));
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return used;
}

class Upload {
 public:
  Upload(OperatorConnection& connection, const PublishTree& tree, const UploadProgress& progress,
         const std::set<std::string>& stored)
      : connection_(connection), tree_(tree), progress_(progress), stored_(stored) {
    total_ = tree.metadata_bytes;
    for (const TreeBlob& blob : tree.blobs) {
      if (!stored_.contains(blob.sha256)) total_ += blob.length;
    }
  }

  Result<UploadOutcome> Run(const std::string& description) {
    connection_.Prepare(context_, PublishDeadline(connection_.timeout(), total_));
    writer_ = connection_.stub().Publish(&context_, &outcome_.response);
    v1::PublishRequest request;
    request.mutable_header()->set_description(description);
    bool open = writer_->Write(request);
    for (size_t i = 0; open && i < tree_.metadata.size(); ++i) {
      const TreeMetadataFile& file = tree_.metadata[i];
      v1::MetadataFile* message = request.mutable_metadata();
      message->set_name(file.name);
      message->set_content(file.content);
      open = writer_->Write(request);
      if (open) Sent(file.content.size(), &outcome_.metadata_sent);
    }
    request.clear_metadata();
    for (size_t i = 0; open && i < tree_.blobs.size(); ++i) {
      const TreeBlob& blob = tree_.blobs[i];
      if (stored_.contains(blob.sha256)) {
        v1::TargetDigest* digest = request.mutable_stored_target();
        digest->set_sha256(blob.sha256);
        digest->set_length(blob.length);
        open = writer_->Write(request);
        if (open) {
          ++outcome_.blobs_skipped;
          outcome_.bytes_skipped += blob.length;
        }
        continue;
      }
      auto sent = SendBlob(blob, request);
      if (!sent) {
        // A local failure: cancel, so the server publishes nothing.
        context_.TryCancel();
        (void)writer_->Finish();
        return MakeError(sent.error());
      }
      open = *sent;
    }
    if (open) {
      request.mutable_commit();
      open = writer_->Write(request);
    }
    if (open) writer_->WritesDone();
    // A stream the server ended early (a rejection, a limit) reports why here.
    grpc::Status status = writer_->Finish();
    if (!status.ok()) {
      return MakeError(ErrorKind::kPolicy,
                       DescribeFailure(connection_.server(), "the publish", status));
    }
    return std::move(outcome_);
  }

 private:
  // False when the stream closed (the server ended the call); the status tells why.
  Result<bool> SendBlob(const TreeBlob& blob, v1::PublishRequest& request) {
    const std::string what = blob.path.string() + " (target " + blob.target + ")";
    io::UniqueFd fd(::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return MakeError(ErrorKind::kIo, "opening " + what + ": " + std::strerror(errno));
    }
    v1::TargetBlobChunk* chunk = request.mutable_target();
    chunk->set_sha256(blob.sha256);
    uint64_t offset = 0;
    // An empty target still needs one (empty) chunk so the server stores it.
    do {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kUploadChunkBytes, blob.length - offset));
      MDU_ASSIGN_OR_RETURN(size_t got, ReadAt(fd.get(), offset, want, *chunk->mutable_data(), what));
      if (got != want) {
        return MakeError(ErrorKind::kIo, what + " changed while uploading (now shorter than " +
                                             std::to_string(blob.length) + " bytes)");
      }
      chunk->set_offset(offset);
      if (!writer_->Write(request)) return false;
      offset += got;
      Sent(got, nullptr);
    } while (offset < blob.length);
    ++outcome_.blobs_sent;
    return true;
  }

  void Sent(uint64_t bytes, size_t* counter) {
    outcome_.bytes_sent += bytes;
    if (counter != nullptr) ++*counter;
    if (progress_) progress_(outcome_.bytes_sent, total_);
  }

  OperatorConnection& connection_;
  const PublishTree& tree_;
  const UploadProgress& progress_;
  const std::set<std::string>& stored_;
  uint64_t total_ = 0;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientWriter<v1::PublishRequest>> writer_;
  UploadOutcome outcome_;
};

}  // namespace

std::chrono::seconds PublishDeadline(std::chrono::seconds base, uint64_t bytes) {
  return base + std::chrono::seconds(bytes / kMinBytesPerSecond);
}

Result<std::set<std::string>> StoredTargets(OperatorConnection& connection,
                                            const PublishTree& tree) {
  constexpr size_t kBatch = 10000;  // the server's maximum per call
  std::set<std::string> stored;
  for (size_t start = 0; start < tree.blobs.size(); start += kBatch) {
    v1::GetStoredTargetsRequest request;
    for (size_t i = start; i < std::min(tree.blobs.size(), start + kBatch); ++i) {
      v1::TargetDigest* digest = request.add_targets();
      digest->set_sha256(tree.blobs[i].sha256);
      digest->set_length(tree.blobs[i].length);
    }
    grpc::ClientContext context;
    connection.Prepare(context);
    v1::GetStoredTargetsResponse response;
    grpc::Status status = connection.stub().GetStoredTargets(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) return std::set<std::string>();
    if (!status.ok()) {
      return MakeError(ErrorKind::kPolicy,
                       DescribeFailure(connection.server(), "GetStoredTargets", status));
    }
    for (const v1::TargetDigest& digest : response.stored()) stored.insert(digest.sha256());
  }
  return stored;
}

Result<UploadOutcome> UploadTree(OperatorConnection& connection, const PublishTree& tree,
                                 const std::string& description, const UploadProgress& progress,
                                 const std::set<std::string>& stored) {
  Upload upload(connection, tree, progress, stored);
  return upload.Run(description);
}

}  // namespace mdu::ops
