#include "repo-server/ops_client/commands.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "repo-server/ops_client/connection.h"
#include "repo-server/ops_client/format.h"
#include "repo-server/ops_client/publish_tree.h"
#include "repo-server/ops_client/uploader.h"

namespace mdu::ops {
namespace {

namespace v1 = ::mdu::v1;

// Progress only for uploads long enough to watch.
constexpr uint64_t kProgressMinBytes = 8u << 20;

struct CommonFlags {
  ConnectionOptions connection;
  bool json = false;
};

void AddConnectionOptions(CLI::App& command, CommonFlags& flags) {
  ConnectionOptions& c = flags.connection;
  command.add_option("--server", c.server, "the repo-server's operator address HOST:PORT")
      ->required();
  command.add_option("--ca-cert", c.ca_cert,
                     "PEM file of the CA that issued the server's TLS certificate (TLS; the "
                     "server is verified)");
  command.add_flag("--insecure", c.insecure,
                   "plaintext gRPC, refused unless --server is a loopback address");
  command.add_option("--tls-server-name", c.tls_server_name,
                     "name to expect in the server's certificate when it is not the HOST");
  command.add_option("--token-file", c.token_file,
                     "file holding the operator bearer token (first line; must not be "
                     "readable by group or others: chmod 600)");
  command.add_option("--token-env", c.token_env,
                     "environment variable holding the token (unset once read)");
  command.add_option("--timeout", c.timeout_seconds,
                     "deadline of each call in seconds (publish: plus 1 s per MiB uploaded)")
      ->capture_default_str();
  command.add_flag("--json", flags.json, "machine-readable output (fields: repo-server/README.md)");
}

// Prints "repo-server <command>: <message>" on stderr; returns 1.
int Fail(std::string_view command, std::string_view message) {
  std::fprintf(stderr, "repo-server %.*s: %.*s\n", static_cast<int>(command.size()),
               command.data(), static_cast<int>(message.size()), message.data());
  return 1;
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// One unary call with the connection's deadline and token; the failure text on error.
template <class Request, class Response, class Method>
Result<Response> Call(OperatorConnection& connection, std::string_view name, Method method,
                      const Request& request) {
  grpc::ClientContext context;
  connection.Prepare(context);
  Response response;
  grpc::Status status = (connection.stub().*method)(&context, request, &response);
  if (!status.ok()) {
    return MakeError(ErrorKind::kPolicy, DescribeFailure(connection.server(), name, status));
  }
  return response;
}

// "\rpublish: 12.0/100.0 MiB (12%)" on stderr when it is a terminal, at most 10 times a second.
class ProgressLine {
 public:
  explicit ProgressLine(uint64_t total)
      : enabled_(total >= kProgressMinBytes && isatty(STDERR_FILENO) == 1) {}
  ~ProgressLine() {
    if (drawn_) std::fputc('\n', stderr);
  }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    const double mib = 1024.0 * 1024.0;
    std::fprintf(stderr, "\rpublish: %.1f/%.1f MiB (%d%%)", static_cast<double>(done) / mib,
                 static_cast<double>(total) / mib,
                 total == 0 ? 100 : static_cast<int>(done * 100 / total));
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

int RunPublish(const CommonFlags& flags, const std::string& repo_dir,
               const std::string& description, bool upload_all) {
  constexpr std::string_view kName = "publish";
  if (auto valid = ValidateConnectionOptions(flags.connection); !valid) {
    return Fail(kName, valid.error().message());
  }
  // The local tree first: a broken tree is reported without contacting the server.
  auto checked = ReadPublishTree(repo_dir);
  if (!checked) return Fail(kName, checked.error().message());
  auto connection = OperatorConnection::Open(flags.connection);
  if (!connection) return Fail(kName, connection.error().message());
  // Roots the server already trusts need not travel again (and a server bootstrapped with a
  // later root would refuse older ones as not part of its chain).
  auto status = Call<v1::GetRepositoryStatusRequest, v1::RepositoryStatus>(
      **connection, "GetRepositoryStatus", &v1::OperatorService::Stub::GetRepositoryStatus,
      v1::GetRepositoryStatusRequest());
  if (!status) return Fail(kName, status.error().message());
  int64_t trusted_root = 0;
  for (const v1::RoleStatus& role : status->roles()) {
    if (role.role() == "root") trusted_root = role.version();
  }
  PublishTree tree = std::move(*checked);
  if (trusted_root > 0) {
    auto trimmed = ReadPublishTree(repo_dir, trusted_root);
    if (!trimmed) return Fail(kName, trimmed.error().message());
    tree = std::move(*trimmed);
  }
  // Blobs the server holds already (same sha256 and length) are named, not uploaded again.
  std::set<std::string> stored;
  if (!upload_all) {
    auto found = StoredTargets(**connection, tree);
    if (!found) return Fail(kName, found.error().message());
    stored = std::move(*found);
  }
  uint64_t to_upload = tree.metadata_bytes;
  for (const TreeBlob& blob : tree.blobs) {
    if (!stored.contains(blob.sha256)) to_upload += blob.length;
  }
  ProgressLine progress(to_upload);
  auto uploaded = UploadTree(
      **connection, tree, description,
      [&](uint64_t done, uint64_t total) { progress.Update(done, total); }, stored);
  if (!uploaded) return Fail(kName, uploaded.error().message());
  PublishSummary summary{flags.connection.server, description,        &tree,
                         &uploaded->response,     uploaded->bytes_sent, uploaded->metadata_sent,
                         uploaded->blobs_sent,    uploaded->blobs_skipped,
                         uploaded->bytes_skipped};
  Print(flags.json ? JsonDocument(PublishJson(summary)) : PublishText(summary));
  return 0;
}

// The read commands share this shape: connect, call, print.
template <class Request, class Response, class Method, class Render>
int RunQuery(std::string_view name, const CommonFlags& flags, std::string_view method_name,
             Method method, const Request& request, Render render) {
  auto connection = OperatorConnection::Open(flags.connection);
  if (!connection) return Fail(name, connection.error().message());
  auto response = Call<Request, Response>(**connection, method_name, method, request);
  if (!response) return Fail(name, response.error().message());
  return render(*response);
}

// Every page of ListDevices, merged into one response (the --json shape of one call).
int RunDevices(const CommonFlags& flags, uint32_t page_size) {
  constexpr std::string_view kName = "devices";
  auto connection = OperatorConnection::Open(flags.connection);
  if (!connection) return Fail(kName, connection.error().message());
  v1::ListDevicesResponse all;
  v1::ListDevicesRequest request;
  request.set_page_size(page_size);
  for (;;) {
    auto page = Call<v1::ListDevicesRequest, v1::ListDevicesResponse>(
        **connection, "ListDevices", &v1::OperatorService::Stub::ListDevices, request);
    if (!page) return Fail(kName, page.error().message());
    for (v1::DeviceSummary& device : *page->mutable_devices()) {
      *all.add_devices() = std::move(device);
    }
    // A server that does not page returns no token: its one answer is everything.
    if (page->next_page_token().empty()) break;
    if (page->next_page_token() == request.page_token()) {
      return Fail(kName, "server " + flags.connection.server + " repeated a page token");
    }
    request.set_page_token(page->next_page_token());
  }
  Print(flags.json ? JsonDocument(DevicesJson(all)) : DevicesText(all));
  return 0;
}

int RunAuditList(const CommonFlags& flags, uint64_t after, uint64_t limit) {
  constexpr std::string_view kName = "audit list";
  auto connection = OperatorConnection::Open(flags.connection);
  if (!connection) return Fail(kName, connection.error().message());
  constexpr uint32_t kPage = 1000;
  std::vector<v1::AuditRecordEntry> records;
  for (;;) {
    v1::ListAuditRecordsRequest request;
    request.set_after_seq(after);
    uint64_t want = limit == 0 ? kPage : std::min<uint64_t>(kPage, limit - records.size());
    request.set_limit(static_cast<uint32_t>(want));
    auto page = Call<v1::ListAuditRecordsRequest, v1::ListAuditRecordsResponse>(
        **connection, "ListAuditRecords", &v1::OperatorService::Stub::ListAuditRecords, request);
    if (!page) return Fail(kName, page.error().message());
    for (const v1::AuditRecordEntry& entry : page->records()) {
      records.push_back(entry);
      after = entry.seq();
    }
    if (page->records().empty() || static_cast<uint64_t>(page->records_size()) < want ||
        (limit != 0 && records.size() >= limit)) {
      break;
    }
  }
  Print(flags.json ? JsonDocument(AuditJson(records)) : AuditText(records));
  return 0;
}

}  // namespace

bool IsOperatorCommand(int argc, char** argv) {
  if (argc < 2) return false;
  const std::string_view command = argv[1];
  for (std::string_view name : {"publish", "status", "devices", "history", "failures",
                                "find-devices"}) {
    if (command == name) return true;
  }
  return command == "audit" && argc >= 3 && std::string_view(argv[2]) == "list";
}

int RunOperatorCommand(int argc, char** argv) {
  CLI::App app{
      "repo-server operator commands: clients of a running server's OperatorService "
      "(TLS with --ca-cert, or --insecure on loopback; bearer token from --token-file or "
      "--token-env). Exit status 0 on success, 1 otherwise.",
      "repo-server"};
  app.require_subcommand(1);
  CommonFlags flags;

  std::string repo_dir;
  std::string description;
  CLI::App* publish = app.add_subcommand(
      "publish",
      "upload the tree `signer publish --out DIR` wrote (root chain, timestamp, the snapshot "
      "it names, the targets roles that snapshot lists, their target files) as one publish; "
      "the server verifies it against the root it trusts and commits it atomically or "
      "rejects it (the reason is printed, exit status 1, nothing changes)");
  AddConnectionOptions(*publish, flags);
  publish->add_option("--description", description,
                      "free text recorded with the publish in the audit log (<= 1 KiB)");
  publish->add_option("REPO_DIR", repo_dir, "the published tree (holds metadata/ and targets/)")
      ->required();
  bool upload_all = false;
  publish->add_flag("--upload-all", upload_all,
                    "upload every target blob, also those the server already stores (by "
                    "default they are named, not sent: GetStoredTargets)");

  CLI::App* status = app.add_subcommand(
      "status", "the current version and expiry of every role, and the number of targets");
  AddConnectionOptions(*status, flags);

  CLI::App* devices = app.add_subcommand(
      "devices", "every device that reported: installed version, last report, inventory");
  AddConnectionOptions(*devices, flags);
  uint32_t page_size = 0;
  devices->add_option("--page-size", page_size,
                      "devices per ListDevices call (0: the server's maximum); every page is "
                      "fetched and printed as one list")
      ->capture_default_str();

  std::string device_id;
  CLI::App* history = app.add_subcommand(
      "history",
      "a device's installation reports and security events, oldest first, with their "
      "evidence (verified: signed over a server nonce with the device certificate); exit "
      "status 1 when the server holds nothing from the device");
  AddConnectionOptions(*history, flags);
  history->add_option("DEVICE_ID", device_id, "the device id")->required();

  std::string release;
  CLI::App* failures = app.add_subcommand(
      "failures", "failed installation reports of a release (their to_version), with the "
                  "reason code and the first line of the device's log excerpt");
  AddConnectionOptions(*failures, flags);
  failures->add_option("RELEASE", release, "the release version (to_version of the reports)")
      ->required();

  v1::FindDevicesRequest find;
  CLI::App* find_devices = app.add_subcommand(
      "find-devices", "devices whose current inventory holds a target matching every given "
                      "field (at least one)");
  AddConnectionOptions(*find_devices, flags);
  find_devices->add_option("--target", *find.mutable_target(), "exact TUF target path");
  find_devices->add_option("--version", *find.mutable_version(), "exact version");
  find_devices->add_option("--sbom-sha256", *find.mutable_sbom_sha256(),
                           "lowercase hex sha256 of an SBOM");
  find_devices->add_option("--sha256", *find.mutable_sha256(),
                           "lowercase hex sha256 of the installed payload");

  uint64_t after = 0;
  uint64_t limit = 0;
  CLI::App* audit = app.add_subcommand(
      "audit", "the server's audit log (`repo-server audit verify --data-dir DIR` checks the "
               "hash chain offline)");
  audit->require_subcommand(1);
  CLI::App* audit_list = audit->add_subcommand(
      "list", "the hash-chained audit records over the OperatorService, oldest first");
  AddConnectionOptions(*audit_list, flags);
  audit_list->add_option("--after", after, "only records with a greater seq")
      ->capture_default_str();
  audit_list->add_option("--limit", limit, "at most this many records (0: all)")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  if (publish->parsed()) return RunPublish(flags, repo_dir, description, upload_all);
  if (status->parsed()) {
    return RunQuery<v1::GetRepositoryStatusRequest, v1::RepositoryStatus>(
        "status", flags, "GetRepositoryStatus", &v1::OperatorService::Stub::GetRepositoryStatus,
        v1::GetRepositoryStatusRequest(), [&](const v1::RepositoryStatus& response) {
          const std::string& server = flags.connection.server;
          Print(flags.json ? JsonDocument(StatusJson(server, response))
                           : StatusText(server, response));
          return 0;
        });
  }
  auto print_devices = [&](const v1::ListDevicesResponse& response) {
    Print(flags.json ? JsonDocument(DevicesJson(response)) : DevicesText(response));
    return 0;
  };
  if (devices->parsed()) return RunDevices(flags, page_size);
  if (find_devices->parsed()) {
    if (find.target().empty() && find.version().empty() && find.sbom_sha256().empty() &&
        find.sha256().empty()) {
      return Fail("find-devices", "give at least one of --target, --version, --sbom-sha256, "
                                  "--sha256");
    }
    return RunQuery<v1::FindDevicesRequest, v1::ListDevicesResponse>(
        "find-devices", flags, "FindDevices", &v1::OperatorService::Stub::FindDevices, find,
        print_devices);
  }
  if (history->parsed()) {
    v1::GetDeviceHistoryRequest request;
    request.set_device_id(device_id);
    return RunQuery<v1::GetDeviceHistoryRequest, v1::DeviceHistory>(
        "history", flags, "GetDeviceHistory", &v1::OperatorService::Stub::GetDeviceHistory,
        request, [&](const v1::DeviceHistory& response) {
          Print(flags.json ? JsonDocument(HistoryJson(device_id, response))
                           : HistoryText(device_id, response));
          if (response.reports().empty() && response.security_events().empty()) {
            return Fail("history", "server " + flags.connection.server +
                                       " holds no reports or security events from device " +
                                       Printable(device_id));
          }
          return 0;
        });
  }
  if (failures->parsed()) {
    v1::ListFailuresRequest request;
    request.set_release(release);
    return RunQuery<v1::ListFailuresRequest, v1::ListFailuresResponse>(
        "failures", flags, "ListFailures", &v1::OperatorService::Stub::ListFailures, request,
        [&](const v1::ListFailuresResponse& response) {
          Print(flags.json ? JsonDocument(FailuresJson(release, response))
                           : FailuresText(release, response));
          return 0;
        });
  }
  if (audit_list->parsed()) return RunAuditList(flags, after, limit);
  return Fail("", "no command");
}

}  // namespace mdu::ops
