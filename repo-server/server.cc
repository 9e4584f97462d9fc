#include "repo-server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/keys.h"
#include "core/io/file.h"
#include "core/json/value.h"
#include "core/json/writer.h"
#include "repo-server/audit_log.h"
#include "repo-server/auth.h"
#include "repo-server/clock.h"
#include "repo-server/repository.h"
#include "repo-server/rocksdb_store.h"
#include "repo-server/service.h"
#include "repo-server/static_mirror.h"
#include "repo-server/timestamp_resigner.h"

namespace mdu::server {
namespace {

constexpr uint64_t kMaxKeyFileBytes = 64u << 10;
constexpr uint64_t kMaxRootFileBytes = 16u << 20;
constexpr int kMaxMessageBytes = 4 << 20;

struct Options {
  std::string listen = "127.0.0.1:8443";
  std::string data_dir;
  std::string trusted_root;
  bool insecure = false;
  std::string tls_cert;
  std::string tls_key;
  std::string client_ca;
  std::string operator_credentials;
  std::string port_file;
  std::string static_mirror_dir;
  std::string timestamp_key_insecure_file;
  std::string timestamp_key_scheme = "ed25519";
  int64_t timestamp_validity = 24 * 3600L;
  int64_t timestamp_margin = 6 * 3600L;
  int64_t resign_interval = 60;
  int64_t shutdown_grace = 5;
  std::string log_level = "info";
};

// The host part of "host:port", "[v6]:port".
std::string HostOf(const std::string& address) {
  if (address.starts_with("[")) {
    size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

Result<std::string> ReadText(const std::string& path, uint64_t limit, std::string_view what) {
  auto bytes = io::ReadFileBounded(path, limit);
  if (!bytes) return MakeError(bytes.error().WithContext(std::string(what) + " " + path));
  return std::move(*bytes);
}

// Blocks SIGTERM/SIGINT in every thread (call before any thread starts) so one thread can
// sigwait for them.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Runs TimestampResigner::Tick every interval until stopped.
class ResignLoop {
 public:
  ResignLoop(TimestampResigner resigner, std::chrono::seconds interval)
      : resigner_(resigner), interval_(interval), thread_([this] { Run(); }) {}
  ~ResignLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      auto resigned = resigner_.Tick();
      if (!resigned) {
        spdlog::error("event=timestamp_resign_failed error=\"{}\"", resigned.error().ToString());
      } else if (*resigned) {
        spdlog::info("event=timestamp_resigned");
      }
      lock.lock();
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  TimestampResigner resigner_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

int Serve(const Options& options, const sigset_t& signals) {
  SystemClock clock;
  auto root = ReadText(options.trusted_root, kMaxRootFileBytes, "trusted root");
  if (!root) {
    spdlog::critical("event=startup_failed error=\"{}\"", root.error().ToString());
    return 1;
  }
  auto store = OpenRocksDbStore(options.data_dir);
  if (!store) {
    spdlog::critical("event=startup_failed error=\"{}\"", store.error().ToString());
    return 1;
  }
  auto repository = Repository::Open(std::move(*store), std::move(*root), clock);
  if (!repository) {
    spdlog::critical("event=startup_failed error=\"{}\"", repository.error().ToString());
    return 1;
  }
  auto audit = AuditLog::Open((*repository)->store(), clock);
  if (!audit) {
    spdlog::critical("event=startup_failed error=\"audit log: {}\"", audit.error().ToString());
    return 1;
  }
  (*repository)->set_audit_log(audit->get());
  auto view = (*repository)->view();
  spdlog::info("event=repository_opened initialized={} root_version={} timestamp_version={}",
               view->initialized(), view->CurrentVersion("root"),
               view->CurrentVersion("timestamp"));

  std::optional<StaticMirror> mirror;
  if (!options.static_mirror_dir.empty()) {
    mirror.emplace(options.static_mirror_dir, (*repository)->store());
    if (auto done = mirror->Materialize(*view); !done) {
      spdlog::critical("event=startup_failed error=\"static mirror: {}\"", done.error().ToString());
      return 1;
    }
    (*repository)->set_commit_listener([&mirror](const RepositoryView& next) {
      if (auto done = mirror->Materialize(next); !done) {
        spdlog::error("event=static_mirror_failed error=\"{}\"", done.error().ToString());
      } else {
        spdlog::info("event=static_mirror_updated timestamp_version={}",
                     next.CurrentVersion("timestamp"));
      }
    });
  }

  std::optional<crypto::PrivateKey> timestamp_key;
  std::optional<ResignLoop> resign_loop;
  if (!options.timestamp_key_insecure_file.empty()) {
    auto scheme = crypto::SchemeFromName(options.timestamp_key_scheme);
    auto der = ReadText(options.timestamp_key_insecure_file, kMaxKeyFileBytes, "timestamp key");
    if (!scheme || !der) {
      spdlog::critical("event=startup_failed error=\"{}\"",
                       (!scheme ? scheme.error() : der.error()).ToString());
      return 1;
    }
    auto key = crypto::PrivateKey::FromPkcs8Der(
        *scheme, std::span(reinterpret_cast<const uint8_t*>(der->data()), der->size()));
    std::fill(der->begin(), der->end(), '\0');
    if (!key) {
      spdlog::critical("event=startup_failed error=\"{}\"", key.error().ToString());
      return 1;
    }
    timestamp_key.emplace(std::move(*key));
    auto resigner = TimestampResigner::Create(
        **repository, *timestamp_key,
        ResignPolicy{options.timestamp_validity, options.timestamp_margin});
    if (!resigner) {
      spdlog::critical("event=startup_failed error=\"{}\"", resigner.error().ToString());
      return 1;
    }
    spdlog::warn("event=insecure_key_file detail=\"timestamp key read unencrypted from {}\"",
                 options.timestamp_key_insecure_file);
    resign_loop.emplace(*resigner, std::chrono::seconds(options.resign_interval));
    spdlog::info("event=timestamp_resigner_started keyid={}", timestamp_key->public_key().KeyId());
  }

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (options.insecure) {
    credentials = grpc::InsecureServerCredentials();
  } else {
    auto cert = ReadText(options.tls_cert, kMaxKeyFileBytes, "TLS certificate");
    auto key = ReadText(options.tls_key, kMaxKeyFileBytes, "TLS key");
    if (!cert || !key) {
      spdlog::critical("event=startup_failed error=\"{}\"",
                       (!cert ? cert.error() : key.error()).ToString());
      return 1;
    }
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!options.client_ca.empty()) {
      auto ca = ReadText(options.client_ca, kMaxKeyFileBytes, "client CA");
      if (!ca) {
        spdlog::critical("event=startup_failed error=\"{}\"", ca.error().ToString());
        return 1;
      }
      // Handshakes without a client certificate chaining to the device CA fail.
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  }

  std::optional<OperatorCredentials> operators;
  if (!options.operator_credentials.empty()) {
    auto text = ReadText(options.operator_credentials, kMaxKeyFileBytes, "operator credentials");
    if (!text) {
      spdlog::critical("event=startup_failed error=\"{}\"", text.error().ToString());
      return 1;
    }
    auto parsed = OperatorCredentials::Parse(*text);
    if (!parsed) {
      spdlog::critical("event=startup_failed error=\"{}\"",
                       parsed.error().WithContext(options.operator_credentials).ToString());
      return 1;
    }
    operators.emplace(std::move(*parsed));
    spdlog::info("event=operator_credentials_loaded count={}", operators->size());
  } else {
    spdlog::warn(
        "event=operator_auth_disabled detail=\"!!! NO OPERATOR AUTHENTICATION: without "
        "--operator-credentials anyone who can reach {} may publish. Development use on "
        "loopback only. !!!\"",
        options.listen);
  }

  auto started = (*audit)->Append(
      "server", "server_start",
      json::Value::MakeObject({
          {"listen", json::Value(options.listen)},
          {"insecure", json::Value(options.insecure)},
          {"mutual_tls", json::Value(!options.client_ca.empty())},
          {"client_ca", json::Value(options.client_ca)},
          {"operator_credentials", json::Value(options.operator_credentials)},
          {"operator_count", json::Value(static_cast<int64_t>(operators ? operators->size() : 0))},
          {"static_mirror_dir", json::Value(options.static_mirror_dir)},
          {"timestamp_resigning", json::Value(!options.timestamp_key_insecure_file.empty())},
          {"trusted_root", json::Value(options.trusted_root)},
      }));
  if (!started) {
    spdlog::critical("event=startup_failed error=\"audit log: {}\"", started.error().ToString());
    return 1;
  }
  spdlog::info("event=audit_log_opened head_hash={}", (*audit)->head_hash());

  std::unique_ptr<grpc::Service> device =
      NewDeviceService(**repository, clock, !options.client_ca.empty());
  std::unique_ptr<grpc::Service> operator_service =
      NewOperatorService(**repository, operators ? &*operators : nullptr, audit->get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, credentials, &port);
  builder.RegisterService(device.get());
  builder.RegisterService(operator_service.get());
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMessageBytes);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    spdlog::critical("event=startup_failed error=\"cannot listen on {}\"", options.listen);
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  std::printf("repo-server listening on port %d\n", port);
  std::fflush(stdout);
  if (!options.port_file.empty()) {
    if (auto written = io::WriteFileAtomically(options.port_file, std::to_string(port) + "\n");
        !written) {
      spdlog::critical("event=startup_failed error=\"{}\"", written.error().ToString());
      server->Shutdown();
      return 1;
    }
  }
  spdlog::info("event=listening address={} port={} tls={} mutual_tls={} operator_auth={}",
               options.listen, port, !options.insecure, !options.client_ca.empty(),
               operators.has_value());

  std::thread signal_waiter([&server, &signals, &options] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("event=shutdown_requested signal={}", signal);
    server->GetHealthCheckService()->SetServingStatus(false);
    server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::seconds(options.shutdown_grace));
  });
  server->Wait();
  signal_waiter.join();
  resign_loop.reset();
  spdlog::info("event=stopped");
  return 0;
}

// `repo-server audit verify --data-dir DIR [--json]`: 0 if the chain verifies, 2 if it is
// broken (the first broken link is printed), 1 on usage or store errors.
int RunAuditCommand(int argc, char** argv) {
  CLI::App app{
      "repo-server audit: inspect the tamper-evident audit log (stop the server first: "
      "the store is opened exclusively)",
      "repo-server audit"};
  app.require_subcommand(1);
  std::string data_dir;
  bool as_json = false;
  CLI::App* verify = app.add_subcommand(
      "verify", "walk the hash chain of the audit log and report the first broken link");
  verify->add_option("--data-dir", data_dir, "RocksDB directory of the server")
      ->required()
      ->check(CLI::ExistingDirectory);
  verify->add_flag("--json", as_json, "print the result as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  auto store = OpenRocksDbStore(data_dir);
  if (!store) {
    std::fprintf(stderr, "repo-server audit verify: %s\n", store.error().ToString().c_str());
    return 1;
  }
  auto summary = VerifyAuditChain(**store);
  if (!summary) {
    std::string message = summary.error().ToString();
    if (as_json) {
      std::printf("%s\n",
                  json::Canonical(json::Value::MakeObject({{"ok", json::Value(false)},
                                                           {"error", json::Value(message)}}))
                      .c_str());
    } else {
      std::printf("audit chain BROKEN: %s\n", message.c_str());
    }
    return 2;
  }
  if (as_json) {
    std::printf("%s\n", json::Canonical(
                            json::Value::MakeObject(
                                {{"ok", json::Value(true)},
                                 {"records", json::Value(static_cast<int64_t>(summary->records))},
                                 {"head_hash", json::Value(summary->head_hash)}}))
                            .c_str());
  } else {
    std::printf("audit chain OK: %llu records, head %s\n",
                static_cast<unsigned long long>(summary->records), summary->head_hash.c_str());
  }
  return 0;
}

}  // namespace

int RunRepoServer(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "audit") return RunAuditCommand(argc - 1, argv + 1);
  Options options;
  CLI::App app{
      "repo-server: the TUF repository server. Serves signed metadata and targets to devices\n"
      "(DeviceService), accepts signed releases and answers the back office (OperatorService),\n"
      "re-signs timestamp.json with the online timestamp key, and collects device reports.\n"
      "Also serves grpc.health.v1.Health and server reflection.\n"
      "Every operator action is appended to a hash-chained audit log; check it with\n"
      "`repo-server audit verify --data-dir DIR` (see `repo-server audit --help`)."};
  app.add_option("--listen", options.listen,
                 "address:port to listen on; port 0 picks a free port (printed on startup)")
      ->capture_default_str();
  app.add_option("--data-dir", options.data_dir, "RocksDB directory (created if missing)")
      ->required();
  app.add_option("--trusted-root", options.trusted_root,
                 "root metadata trusted by configuration: the trust anchor of the first publish "
                 "and the start of the stored root chain (never trusted from the network)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure", options.insecure,
               "serve plaintext gRPC; refused unless --listen is a loopback address");
  app.add_option("--tls-cert", options.tls_cert, "PEM server certificate (chain)");
  app.add_option("--tls-key", options.tls_key, "PEM private key of --tls-cert");
  app.add_option("--client-ca", options.client_ca,
                 "PEM device CA: require mutual TLS; every client must present a certificate "
                 "issued by it, and device calls naming a device id must match the "
                 "certificate's URI SAN urn:mdu:device:<id> (PERMISSION_DENIED otherwise)")
      ->check(CLI::ExistingFile);
  app.add_option("--operator-credentials", options.operator_credentials,
                 "JSON list of {name, role: publisher|viewer, token_sha256}; operator calls "
                 "carry 'authorization: Bearer <token>'. Required with TLS; without it (only "
                 "with --insecure on loopback) operator calls are NOT authenticated")
      ->check(CLI::ExistingFile);
  app.add_option("--port-file", options.port_file,
                 "write the bound port to this file once listening (for tests and scripts)");
  app.add_option("--static-mirror-dir", options.static_mirror_dir,
                 "after every publish, materialize the TUF static tree here (DIR/current is a "
                 "symlink swapped atomically) for nginx or a CDN");
  app.add_option("--timestamp-key-insecure-file", options.timestamp_key_insecure_file,
                 "UNENCRYPTED PKCS#8 DER timestamp key enabling scheduled re-signing of "
                 "timestamp.json (temporary until encrypted key files are supported)")
      ->check(CLI::ExistingFile);
  app.add_option("--timestamp-key-scheme", options.timestamp_key_scheme,
                 "scheme of the timestamp key: ed25519, ecdsa-sha2-nistp256, rsassa-pss-sha256")
      ->capture_default_str();
  app.add_option("--timestamp-validity", options.timestamp_validity,
                 "seconds a re-signed timestamp stays valid")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--timestamp-margin", options.timestamp_margin,
                 "re-sign when the current timestamp expires within this many seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--resign-interval", options.resign_interval,
                 "seconds between checks of the timestamp's expiry")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--shutdown-grace", options.shutdown_grace,
                 "on SIGTERM/SIGINT, seconds in-flight calls get to finish before they are "
                 "cancelled")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, critical")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }

  auto logger = spdlog::stderr_logger_mt("repo-server");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_default_logger(logger);

  bool has_tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (options.insecure && has_tls) {
    spdlog::critical(
        "event=usage_error error=\"--insecure and --tls-cert/--tls-key exclude "
        "each other\"");
    return 1;
  }
  if (options.insecure && !IsLoopback(HostOf(options.listen))) {
    spdlog::critical(
        "event=usage_error error=\"--insecure is only allowed on a loopback "
        "address, not {}\"",
        options.listen);
    return 1;
  }
  if (!options.insecure && (options.tls_cert.empty() || options.tls_key.empty())) {
    spdlog::critical(
        "event=usage_error error=\"TLS needs --tls-cert and --tls-key (or "
        "--insecure on loopback)\"");
    return 1;
  }
  if (!options.client_ca.empty() && options.insecure) {
    spdlog::critical("event=usage_error error=\"--client-ca needs TLS, not --insecure\"");
    return 1;
  }
  if (!options.insecure && options.operator_credentials.empty()) {
    spdlog::critical(
        "event=usage_error error=\"with TLS, operator calls need --operator-credentials\"");
    return 1;
  }
  sigset_t signals = BlockShutdownSignals();
  return Serve(options, signals);
}

}  // namespace mdu::server
