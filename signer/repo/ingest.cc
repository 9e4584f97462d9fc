#include "signer/repo/ingest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <system_error>
#include <thread>

#include "core/crypto/hash.h"
#include "core/io/unique_fd.h"

namespace mdu::signer::repo {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlockSize = 1u << 20;
// Files at least this large hash sha256 and sha512 on two threads.
constexpr off_t kSplitThreshold = 8 << 20;
constexpr std::array<crypto::HashAlgorithm, 2> kAlgorithms = {crypto::HashAlgorithm::kSha256,
                                                              crypto::HashAlgorithm::kSha512};

using io::UniqueFd;

std::string TempName() {
  static thread_local std::mt19937_64 engine{std::random_device{}()};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = ".incoming-";
  uint64_t bits = engine();
  for (int i = 0; i < 16; ++i, bits >>= 4) out.push_back(kDigits[bits & 15]);
  return out;
}

Status WriteAll(int fd, const uint8_t* data, size_t size, const fs::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorKind::kIo, "writing " + path.string() + ": " + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

// One file: read block by block, hash, and copy into a fresh temporary blob.
Result<IngestedFile> IngestOne(const fs::path& source, const fs::path& blob_dir,
                               std::vector<uint8_t>& buffer,
                               const std::function<void(uint64_t)>& on_bytes) {
  UniqueFd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    return MakeError(ErrorKind::kIo, "cannot open target file " + source.string() + ": " +
                                         std::strerror(errno) + " (check the path)");
  }
  IngestedFile out;
  out.source = source;
  std::optional<UniqueFd> blob;
  if (!blob_dir.empty()) {
    out.temp_blob = blob_dir / TempName();
    blob.emplace(::open(out.temp_blob.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (blob->get() < 0) {
      const int err = errno;
      return MakeError(ErrorKind::kIo,
                       "cannot create " + out.temp_blob.string() + ": " + std::strerror(err));
    }
  }
  auto fail = [&](Error error) -> Result<IngestedFile> {
    if (!out.temp_blob.empty()) {
      std::error_code ec;
      fs::remove(out.temp_blob, ec);
    }
    return MakeError(std::move(error));
  };
  // Large files: sha512 of block i runs on a helper thread while this thread computes sha256
  // of the same block, writes it and reads block i + 1 into the other buffer (sha512 is the
  // slower digest, so one read feeds both cores). Small files: one MultiHasher, no thread.
  struct stat st {};
  const bool split = ::fstat(in.get(), &st) == 0 && st.st_size >= kSplitThreshold;
  crypto::MultiHasher hasher(kAlgorithms);
  crypto::Hasher sha256(crypto::HashAlgorithm::kSha256);
  crypto::Hasher sha512(crypto::HashAlgorithm::kSha512);
  std::vector<uint8_t> second;
  if (split) second.resize(buffer.size());
  std::future<void> pending;
  uint64_t length = 0;
  for (int turn = 0;; turn ^= 1) {
    std::vector<uint8_t>& block = (split && turn == 1) ? second : buffer;
    const ssize_t n = ::read(in.get(), block.data(), block.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      if (pending.valid()) pending.wait();
      return fail(Error(ErrorKind::kIo,
                        "cannot read target file " + source.string() + ": " + std::strerror(err)));
    }
    if (n == 0) break;
    const auto size = static_cast<size_t>(n);
    const std::span<const uint8_t> data(block.data(), size);
    length += size;
    if (split) {
      if (pending.valid()) pending.wait();  // it used the buffer we read into next turn
      pending = std::async(std::launch::async, [&sha512, data] { sha512.Update(data); });
      sha256.Update(data);
    } else {
      hasher.Update(data);
    }
    if (blob) {
      auto written = WriteAll(blob->get(), block.data(), size, out.temp_blob);
      if (!written) {
        if (pending.valid()) pending.wait();
        return fail(std::move(written).error());
      }
    }
    if (on_bytes) on_bytes(size);
  }
  if (pending.valid()) pending.wait();
  if (blob && ::close(blob->Release()) != 0) {
    return fail(
        Error(ErrorKind::kIo, "closing " + out.temp_blob.string() + ": " + std::strerror(errno)));
  }
  out.length = length;
  if (split) {
    out.sha256 = sha256.FinishHex();
    out.sha512 = sha512.FinishHex();
  } else {
    for (auto& [name, hex] : hasher.FinishHex()) {
      (name == "sha256" ? out.sha256 : out.sha512) = std::move(hex);
    }
  }
  return out;
}

}  // namespace

void DiscardIngested(const std::vector<IngestedFile>& files) {
  for (const IngestedFile& file : files) {
    if (file.temp_blob.empty()) continue;
    std::error_code ec;
    fs::remove(file.temp_blob, ec);
  }
}

Result<std::vector<IngestedFile>> IngestFiles(const std::vector<fs::path>& files,
                                              const IngestOptions& options) {
  std::vector<std::optional<Result<IngestedFile>>> results(files.size());
  IngestProgress progress;
  progress.files_total = files.size();
  std::mutex progress_mutex;
  if (options.progress) {
    for (const fs::path& file : files) {
      std::error_code ec;
      const auto size = fs::file_size(file, ec);
      if (!ec) progress.bytes_total += size;
    }
  }
  auto on_bytes = [&](uint64_t bytes) {
    std::lock_guard lock(progress_mutex);
    progress.bytes_done += bytes;
    options.progress(progress);
  };
  std::function<void(uint64_t)> bytes_callback;
  if (options.progress) bytes_callback = on_bytes;

  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    std::vector<uint8_t> buffer(kBlockSize);
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= files.size() || failed.load()) return;
      results[i] = IngestOne(files[i], options.blob_dir, buffer, bytes_callback);
      if (!*results[i]) failed.store(true);
      if (options.progress) {
        std::lock_guard lock(progress_mutex);
        ++progress.files_done;
        options.progress(progress);
      }
    }
  };
  unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  threads = std::clamp(threads, 1u, 8u);
  threads = static_cast<unsigned>(std::min<size_t>(threads, std::max<size_t>(files.size(), 1)));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(worker);
  }

  std::vector<IngestedFile> out;
  out.reserve(files.size());
  std::optional<Error> first_error;
  for (auto& result : results) {
    if (!result) continue;  // skipped after a failure
    if (*result) {
      out.push_back(std::move(*result).value());
    } else if (!first_error) {
      first_error = std::move(*result).error();
    }
  }
  if (first_error) {
    DiscardIngested(out);
    return MakeError(std::move(*first_error));
  }
  return out;
}

}  // namespace mdu::signer::repo
