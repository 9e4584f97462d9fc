#include "core/client/fetcher.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <type_traits>
#include <vector>

#include "core/common/page_advice.h"

namespace mdu::client {
namespace {

// Limits up to this size are reserved up front (see FetchBytes): twice the largest role we
// measure (30 MB for 100,000 targets), and small enough to reserve on a 256 MB device.
constexpr uint64_t kReservedBodyMaxBytes = uint64_t{64} << 20;
// A body this long is a large role: the rest of its reservation gets huge pages and is
// prefaulted ahead of the writes.
constexpr size_t kLargeBodyBytes = size_t{1} << 20;
// How far ahead of the received bytes the body's pages are prefaulted.
constexpr size_t kPrefaultStepBytes = size_t{1} << 20;

}  // namespace

namespace {

// The body of `url` in one buffer reserved at the limit (address space only, pages are touched
// as bytes arrive): metadata limits are signed lengths or configured bounds of a few MB, and
// growing by copying was a fifth of refreshing a 30 MB targets role. Larger limits grow as usual.
template <class Buffer>
Result<Buffer> FetchInto(Fetcher& fetcher, std::string_view url, uint64_t max_length) {
  Buffer body;
  const bool reserved = max_length <= kReservedBodyMaxBytes;
  if (reserved) body.reserve(static_cast<size_t>(max_length));
  // A heap block gets page advice once the body has proven large, so a small file costs
  // nothing more; a HugePageString is huge pages from the start.
  constexpr bool kAdvise = std::is_same_v<Buffer, std::string>;
  bool advised = false;
  size_t prefaulted = 0;  // body.data() + [0, prefaulted) is known to be present
  MDU_RETURN_IF_ERROR(fetcher.Fetch(url, max_length, [&](std::string_view chunk) -> Status {
    const size_t needed = body.size() + chunk.size();
    if (kAdvise && reserved && !advised && needed >= kLargeBodyBytes) {
      advised = true;
      prefaulted = body.size();
      AdviseHugePages(body.data() + body.size(), body.capacity() - body.size());
    }
    // Pages ahead of the writes are made present a step at a time, one system call per step
    // instead of a fault per page; at most one step more than the body is ever populated.
    if (advised && needed > prefaulted) {
      const size_t upto = std::min(body.capacity(), needed + kPrefaultStepBytes);
      PrefaultForWrite(body.data() + prefaulted, upto - prefaulted);
      prefaulted = upto;
    }
    body.append(chunk);
    return {};
  }));
  return body;
}

}  // namespace

Result<std::string> Fetcher::FetchBytes(std::string_view url, uint64_t max_length) {
  return FetchInto<std::string>(*this, url, max_length);
}

Result<HugePageString> Fetcher::FetchDocument(std::string_view url, uint64_t max_length) {
  return FetchInto<HugePageString>(*this, url, max_length);
}

Status Fetcher::FetchFrom(std::string_view url, uint64_t /*offset*/, uint64_t max_length,
                          const StartSink& on_start, const ChunkSink& sink) {
  // No resume: the whole resource again, from 0. on_start runs only once the fetch delivers
  // something (or succeeds), so a failed request does not make the caller drop its bytes.
  bool started = false;
  Status fetched = Fetch(url, max_length, [&](std::string_view chunk) -> Status {
    if (!started) {
      started = true;
      MDU_RETURN_IF_ERROR(on_start(0));
    }
    return sink(chunk);
  });
  if (fetched && !started) return on_start(0);
  return fetched;
}

Status FileFetcher::Fetch(std::string_view url, uint64_t max_length, const ChunkSink& sink) {
  return FetchFrom(
      url, 0, max_length, [](uint64_t) -> Status { return {}; }, sink);
}

Status FileFetcher::FetchFrom(std::string_view url, uint64_t offset, uint64_t max_length,
                              const StartSink& on_start, const ChunkSink& sink) {
  constexpr std::string_view kScheme = "file://";
  std::string_view path_text = url;
  if (path_text.substr(0, kScheme.size()) == kScheme) {
    path_text.remove_prefix(kScheme.size());
  }
  const std::filesystem::path path(path_text);
  if (offset > max_length) {
    return MakeError(ErrorKind::kInvalidArgument, "offset " + std::to_string(offset) +
                                                      " is beyond the limit of " +
                                                      std::to_string(max_length) + " bytes");
  }

  std::error_code ec;
  const bool is_file = std::filesystem::is_regular_file(path, ec);
  if (!is_file) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return MakeError(ErrorKind::kDownload, "cannot read " + path.string() + ": " + ec.message());
    }
    return MakeError(ErrorKind::kNotFound, "no such file: " + path.string());
  }
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_length) {
    return MakeError(ErrorKind::kLimitExceeded, path.string() + " is " + std::to_string(size) +
                                                    " bytes, more than the limit of " +
                                                    std::to_string(max_length));
  }
  if (!ec && offset > size) {
    return MakeError(ErrorKind::kDownload, "cannot resume " + path.string() + " at byte " +
                                               std::to_string(offset) + ": it has only " +
                                               std::to_string(size));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorKind::kDownload,
                     "cannot open " + path.string() + ": " + std::strerror(errno));
  }
  if (offset > 0 && !in.seekg(static_cast<std::streamoff>(offset))) {
    return MakeError(ErrorKind::kDownload,
                     "cannot seek " + path.string() + " to byte " + std::to_string(offset));
  }
  MDU_RETURN_IF_ERROR(on_start(offset));
  std::vector<char> buffer(1 << 16);
  uint64_t total = offset;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto count = static_cast<uint64_t>(in.gcount());
    if (count == 0) {
      break;
    }
    if (count > max_length - total) {
      return MakeError(ErrorKind::kLimitExceeded, path.string() + " grew beyond the limit of " +
                                                      std::to_string(max_length) + " bytes");
    }
    total += count;
    MDU_RETURN_IF_ERROR(sink(std::string_view(buffer.data(), count)));
  }
  if (in.bad()) {
    return MakeError(ErrorKind::kDownload, "read error on " + path.string());
  }
  return {};
}

}  // namespace mdu::client
