#include "repo-server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/crypto/hash.h"
#include "core/crypto/keys.h"
#include "core/io/file.h"
#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"
#include "repo-server/audit_log.h"
#include "repo-server/auth.h"
#include "repo-server/clock.h"
#include "repo-server/config.h"
#include "repo-server/crl.h"
#include "repo-server/online_key.h"
#include "repo-server/ops_client/commands.h"
#include "repo-server/rate_limiter.h"
#include "repo-server/repository.h"
#include "repo-server/rocksdb_store.h"
#include "repo-server/service.h"
#include "repo-server/static_mirror.h"
#include "repo-server/timestamp_resigner.h"

namespace mdu::server {
namespace {

constexpr uint64_t kMaxKeyFileBytes = 64u << 10;
constexpr uint64_t kMaxRootFileBytes = 16u << 20;
constexpr uint64_t kMaxCrlFileBytes = 64u << 20;

Result<std::string> ReadText(const std::string& path, uint64_t limit, std::string_view what) {
  auto bytes = io::ReadFileBounded(path, limit);
  if (!bytes) return MakeError(bytes.error().WithContext(std::string(what) + " " + path));
  return std::move(*bytes);
}

// Blocks SIGTERM/SIGINT (shutdown) and SIGHUP (reload) in every thread (call before any thread
// starts) so one thread can sigwait for them.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
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

int StartupFailed(const Error& error) {
  spdlog::critical("event=startup_failed error=\"{}\"", error.ToString());
  return 1;
}

// The online keys the server holds: nothing, an encrypted timestamp key (optionally with a
// snapshot key), or the development-only unencrypted timestamp key.
struct OnlineKeys {
  std::optional<crypto::PrivateKey> timestamp;
  std::optional<crypto::PrivateKey> snapshot;
};

Result<OnlineKeys> LoadOnlineKeys(const ServerConfig& config, const RepositoryView& view) {
  OnlineKeys keys;
  if (!config.timestamp_key.empty()) {
    MDU_ASSIGN_OR_RETURN(
        auto key, LoadOnlineKey(config.timestamp_key, config.timestamp_passphrase, "timestamp"));
    MDU_RETURN_IF_ERROR(CheckKeyTrustedFor(view, key.public_key(), "timestamp"));
    keys.timestamp.emplace(std::move(key));
  } else if (!config.timestamp_key_insecure_file.empty()) {
    MDU_ASSIGN_OR_RETURN(auto scheme, crypto::SchemeFromName(config.timestamp_key_scheme));
    MDU_ASSIGN_OR_RETURN(
        auto der, ReadText(config.timestamp_key_insecure_file, kMaxKeyFileBytes, "timestamp key"));
    auto key = crypto::PrivateKey::FromPkcs8Der(
        scheme, std::span(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    std::fill(der.begin(), der.end(), '\0');
    if (!key) return MakeError(key.error().WithContext("timestamp key"));
    keys.timestamp.emplace(std::move(*key));
    spdlog::warn(
        "event=insecure_key_file detail=\"!!! DEVELOPMENT ONLY: timestamp key read UNENCRYPTED "
        "from {}; use --timestamp-key !!!\"",
        config.timestamp_key_insecure_file);
  }
  if (!config.snapshot_key.empty()) {
    MDU_ASSIGN_OR_RETURN(
        auto key, LoadOnlineKey(config.snapshot_key, config.snapshot_passphrase, "snapshot"));
    MDU_RETURN_IF_ERROR(CheckKeyTrustedFor(view, key.public_key(), "snapshot"));
    keys.snapshot.emplace(std::move(key));
  }
  return keys;
}

// The configuration of the newest earlier server_start record (null if none), scanning the
// audit log backwards a page at a time.
Result<json::Value> PreviousStartConfig(const Store& store) {
  MDU_ASSIGN_OR_RETURN(auto last, store.LastAudit());
  if (!last) return json::Value(nullptr);
  constexpr uint64_t kPage = 256;
  for (uint64_t end = last->seq; end > 0;) {
    uint64_t after = end > kPage ? end - kPage : 0;
    MDU_ASSIGN_OR_RETURN(auto records, store.ListAudit(after, kPage));
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      if (it->seq > end) continue;
      auto record = json::Parse(it->bytes);
      if (!record) continue;
      const json::Value* action = record->Find("action");
      const json::Value* detail = record->Find("detail");
      if (action == nullptr || !action->is_string() || action->as_string() != "server_start" ||
          detail == nullptr) {
        continue;
      }
      // Records before the config file existed hold the settings in the detail itself.
      const json::Value* config = detail->Find("config");
      return config != nullptr ? *config : *detail;
    }
    end = after;
  }
  return json::Value(nullptr);
}

// server_start with the configuration, then config_changed naming every setting that differs
// from the previous start (the configuration only changes across restarts).
Status RecordStart(AuditLog& audit, const Store& store, const ServerConfig& config,
                   size_t operator_count) {
  MDU_ASSIGN_OR_RETURN(json::Value previous, PreviousStartConfig(store));
  json::Value current = ConfigRecord(config);
  MDU_RETURN_IF_ERROR(
      audit.Append("server", "server_start",
                   json::Value::MakeObject(
                       {{"config", current},
                        {"operator_count", json::Value(static_cast<int64_t>(operator_count))}})));
  if (previous.is_null()) return {};
  json::Value changes = ConfigChanges(previous, current);
  if (changes.as_object().empty()) return {};
  std::string names;
  for (const auto& [key, unused] : changes.as_object()) names += (names.empty() ? "" : ",") + key;
  spdlog::warn("event=config_changed settings={}", names);
  return audit.Append("server", "config_changed",
                      json::Value::MakeObject({{"changes", std::move(changes)}}));
}

// Credentials of the device listener: plaintext, TLS, mutual TLS, or mutual TLS with a CRL
// (gRPC's TLS credentials: the only ones that take CRLs).
Result<std::shared_ptr<grpc::ServerCredentials>> DeviceCredentials(const ServerConfig& config,
                                                                   const CrlDirectory* crl) {
  if (config.insecure) return grpc::InsecureServerCredentials();
  MDU_ASSIGN_OR_RETURN(auto cert, ReadText(config.tls_cert, kMaxKeyFileBytes, "TLS certificate"));
  MDU_ASSIGN_OR_RETURN(auto key, ReadText(config.tls_key, kMaxKeyFileBytes, "TLS key"));
  std::string ca;
  if (!config.client_ca.empty()) {
    MDU_ASSIGN_OR_RETURN(ca, ReadText(config.client_ca, kMaxKeyFileBytes, "client CA"));
  }
  if (crl != nullptr) {
    auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
        ca, std::vector<grpc::experimental::IdentityKeyCertPair>{{key, cert}});
    grpc::experimental::TlsServerCredentialsOptions tls(provider);
    tls.watch_root_certs();
    tls.watch_identity_key_cert_pairs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    tls.set_crl_directory(crl->path().string());
    return grpc::experimental::TlsServerCredentials(tls);
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key, cert});
  if (!ca.empty()) {
    // Handshakes without a client certificate chaining to the device CA fail.
    ssl.pem_root_certs = ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// Credentials of the separate operator listener: server-authenticated TLS only (operators
// prove who they are with bearer tokens), or plaintext on loopback with --insecure.
Result<std::shared_ptr<grpc::ServerCredentials>> OperatorListenerCredentials(
    const ServerConfig& config) {
  if (config.insecure) return grpc::InsecureServerCredentials();
  const std::string& cert_path =
      config.operator_tls_cert.empty() ? config.tls_cert : config.operator_tls_cert;
  const std::string& key_path =
      config.operator_tls_key.empty() ? config.tls_key : config.operator_tls_key;
  MDU_ASSIGN_OR_RETURN(auto cert, ReadText(cert_path, kMaxKeyFileBytes, "operator TLS cert"));
  MDU_ASSIGN_OR_RETURN(auto key, ReadText(key_path, kMaxKeyFileBytes, "operator TLS key"));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(ssl);
}

// Bytes of a streamed target that gRPC may still queue per stream when it reports a write done.
// Half a chunk: every 1 MiB chunk is written at once, and the next one is handed over while
// the last 512 KiB of the previous are still on their way (measured: 2 MiB was no faster).
constexpr int kStreamWriteBufferBytes = 512 << 10;

// One gRPC server: its listener, services and limits.
struct Listener {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

Listener StartListener(const std::string& address,
                       const std::shared_ptr<grpc::ServerCredentials>& credentials,
                       const std::vector<grpc::Service*>& services, int max_receive_bytes,
                       int max_send_bytes, int64_t max_connection_idle) {
  Listener listener;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials, &listener.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.SetMaxSendMessageSize(max_send_bytes);
  // GetTarget streams (service.cc, TargetWriter) write with the buffer hint: a write counts as
  // done while at most this many of its bytes still wait in the transport, so the next chunk
  // is handed over before the connection runs dry. Per stream, so it bounds memory too.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, kStreamWriteBufferBytes);
  if (max_connection_idle > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                               static_cast<int>(std::min<int64_t>(
                                   max_connection_idle * 1000, std::numeric_limits<int>::max())));
  }
  listener.server = builder.BuildAndStart();
  if (listener.server) listener.server->GetHealthCheckService()->SetServingStatus(true);
  return listener;
}

// Test-only: MDU_TEST_PUBLISH_FAULT=<point>:<marker file> makes every publish reaching <point>
// ("verified": before the commit's write, "committed": after it, before the view swap) write
// the marker file and stop there forever, so a test can kill -9 the server inside the commit
// window. Logged loudly; never set it in production.
void InstallTestFaultHook(Repository& repository) {
  const char* spec = std::getenv("MDU_TEST_PUBLISH_FAULT");
  if (spec == nullptr || *spec == '\0') return;
  std::string text(spec);
  size_t colon = text.find(':');
  if (colon == std::string::npos) return;
  std::string point = text.substr(0, colon);
  std::string marker = text.substr(colon + 1);
  spdlog::warn(
      "event=test_fault_hook_installed point={} detail=\"TEST ONLY: publishes stop at "
      "{} forever\"",
      point, point);
  repository.set_fault_hook([point, marker](std::string_view reached) {
    if (reached != point) return;
    (void)io::WriteFileAtomically(marker, point + "\n");
    for (;;) pause();
  });
}

// sha256 of a file (to notice a changed file under the same path at reload).
std::string FileDigest(const std::string& path, uint64_t limit) {
  auto text = ReadText(path, limit, "file");
  return text ? crypto::Sha256Hex(*text) : std::string();
}

Result<std::shared_ptr<const OperatorCredentials>> LoadOperatorCredentials(
    const std::string& path) {
  MDU_ASSIGN_OR_RETURN(auto text, ReadText(path, kMaxKeyFileBytes, "operator credentials"));
  auto parsed = OperatorCredentials::Parse(text);
  if (!parsed) return MakeError(parsed.error().WithContext(path));
  return std::make_shared<const OperatorCredentials>(std::move(*parsed));
}

OperatorPolicy MakeOperatorPolicy(const ServerConfig& config,
                                  std::shared_ptr<const OperatorCredentials> credentials) {
  OperatorPolicy policy;
  policy.credentials = std::move(credentials);
  policy.upload.max_publish_bytes = static_cast<uint64_t>(config.max_publish_bytes);
  policy.upload.max_target_bytes = static_cast<uint64_t>(config.max_target_bytes);
  policy.publish_timeout = std::chrono::seconds(config.publish_timeout);
  policy.publish_idle_timeout = std::chrono::seconds(config.publish_idle_timeout);
  policy.max_concurrent_publishes = static_cast<int>(config.max_concurrent_publishes);
  return policy;
}

// What SIGHUP may change while the server runs, and where it applies it.
struct Reloadable {
  const ServerConfigParser& parse;
  AuditLog& audit;
  RateLimiter* limiter;  // null without mutual TLS (no device identity to limit)
  OperatorSettings& operator_settings;
  CrlDirectory* crl;      // null without --crl at start (adding one needs a restart)
  const Clock& clock;
  ServerConfig active;   // as last applied
  std::string credentials_sha256;  // of the operator credentials file as last loaded
  std::string crl_sha256;          // of the CRL file as last loaded
};

// Settings a reload applies; any other difference is recorded as needing a restart.
bool AppliedAtRuntime(const std::string& key) {
  static const std::set<std::string> kRuntime = {
      "operator_credentials", "operator_credentials_sha256", "device_rate_milli", "device_burst",
      "max_publish_bytes", "max_target_bytes", "publish_timeout", "publish_idle_timeout",
      "max_concurrent_publishes", "crl_sha256"};
  return kRuntime.contains(key);
}

// SIGHUP: re-reads the command line's --config file and the operator credentials file. An
// invalid configuration or credentials file is refused whole (logged and audited as
// config_reload_refused); the running settings stay. Otherwise the runtime settings are applied
// and one config_changed record lists every difference, with those that need a restart.
void Reload(Reloadable& r) {
  auto refuse = [&](const Error& error) {
    spdlog::error("event=config_reload_refused error=\"{}\"", error.ToString());
    (void)r.audit.Append("server", "config_reload_refused",
                         json::Value::MakeObject({{"reason", json::Value(error.ToString())}}));
  };
  auto next = r.parse();
  if (!next) return refuse(next.error());
  std::shared_ptr<const OperatorCredentials> credentials;
  std::string credentials_sha256;
  if (!next->operator_credentials.empty()) {
    auto text = ReadText(next->operator_credentials, kMaxKeyFileBytes, "operator credentials");
    if (!text) return refuse(text.error());
    auto parsed = OperatorCredentials::Parse(*text);
    if (!parsed) return refuse(parsed.error().WithContext(next->operator_credentials));
    credentials = std::make_shared<const OperatorCredentials>(std::move(*parsed));
    credentials_sha256 = crypto::Sha256Hex(*text);
  }
  // A changed CRL file under the same path and client CA: added beside the one in use
  // (repo-server/crl.h: gRPC's TLS stack reads it at the next handshake).
  std::string crl_sha256 = r.crl_sha256;
  const bool crl_reloadable =
      r.crl != nullptr && next->crl == r.active.crl && next->client_ca == r.active.client_ca;
  if (crl_reloadable) {
    auto crl_pem = ReadText(next->crl, kMaxCrlFileBytes, "CRL");
    if (!crl_pem) return refuse(crl_pem.error());
    crl_sha256 = crypto::Sha256Hex(*crl_pem);
    if (crl_sha256 != r.crl_sha256) {
      auto ca_pem = ReadText(next->client_ca, kMaxKeyFileBytes, "client CA");
      if (!ca_pem) return refuse(ca_pem.error());
      if (auto added = r.crl->Add(*crl_pem, *ca_pem, r.clock.Now()); !added) {
        return refuse(added.error().WithContext(next->crl));
      }
      spdlog::info("event=crl_loaded file={} crls={} revoked_certificates={}", next->crl,
                   r.crl->crl_count(), r.crl->revoked_count());
    }
  }
  // The credentials and CRL files' contents too: they may change under the same path.
  auto with_digests = [](const ServerConfig& config, const std::string& credentials_digest,
                         const std::string& crl_digest) {
    json::Object record = ConfigRecord(config).as_object();
    record.emplace_back("operator_credentials_sha256", json::Value(credentials_digest));
    record.emplace_back("crl_sha256", json::Value(crl_digest));
    return json::Value::MakeObject(std::move(record));
  };
  json::Value changes =
      ConfigChanges(with_digests(r.active, r.credentials_sha256, r.crl_sha256),
                    with_digests(*next, credentials_sha256, crl_sha256));

  if (r.limiter != nullptr) r.limiter->SetLimit(RateLimit{next->device_rate, next->device_burst});
  r.operator_settings.Set(MakeOperatorPolicy(*next, credentials));
  if (next->log_level != r.active.log_level) {
    spdlog::set_level(spdlog::level::from_str(next->log_level));
  }
  r.active = *next;
  r.credentials_sha256 = credentials_sha256;
  r.crl_sha256 = crl_sha256;

  if (changes.as_object().empty()) {
    spdlog::info("event=config_reloaded changes=none");
    return;
  }
  std::string names;
  json::Array restart;
  for (const auto& [key, unused] : changes.as_object()) {
    names += (names.empty() ? "" : ",") + key;
    if (!AppliedAtRuntime(key)) restart.emplace_back(key);
  }
  spdlog::warn("event=config_changed trigger=SIGHUP settings={} restart_required={}", names,
               restart.size());
  (void)r.audit.Append("server", "config_changed",
                       json::Value::MakeObject({{"trigger", json::Value("SIGHUP")},
                                                {"changes", std::move(changes)},
                                                {"restart_required", json::Value(restart)}}));
}

int Serve(const ServerConfig& config, const sigset_t& signals, const ServerConfigParser& parse) {
  SystemClock clock;
  auto root = ReadText(config.trusted_root, kMaxRootFileBytes, "trusted root");
  if (!root) return StartupFailed(root.error());
  auto store = OpenRocksDbStore(config.data_dir, InventoryIndexTerms);
  if (!store) return StartupFailed(store.error());
  auto repository = Repository::Open(std::move(*store), std::move(*root), clock);
  if (!repository) return StartupFailed(repository.error());
  auto audit = AuditLog::Open((*repository)->store(), clock);
  if (!audit) return StartupFailed(audit.error().WithContext("audit log"));
  (*repository)->set_audit_log(audit->get());
  InstallTestFaultHook(**repository);
  (*repository)->set_timestamp_history(static_cast<size_t>(config.timestamp_history));
  auto view = (*repository)->view();
  spdlog::info("event=repository_opened initialized={} root_version={} timestamp_version={}",
               view->initialized(), view->CurrentVersion("root"),
               view->CurrentVersion("timestamp"));

  std::optional<StaticMirror> mirror;
  if (!config.static_mirror_dir.empty()) {
    mirror.emplace(config.static_mirror_dir, (*repository)->store());
    if (auto done = mirror->Materialize(*view); !done) {
      return StartupFailed(done.error().WithContext("static mirror"));
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

  auto keys = LoadOnlineKeys(config, *view);
  if (!keys) return StartupFailed(keys.error());
  std::optional<ResignLoop> resign_loop;
  if (keys->timestamp) {
    ResignPolicy policy{config.timestamp_validity, config.timestamp_margin,
                        config.snapshot_validity};
    auto resigner = TimestampResigner::Create(**repository, *keys->timestamp, policy,
                                              keys->snapshot ? &*keys->snapshot : nullptr);
    if (!resigner) return StartupFailed(resigner.error());
    resign_loop.emplace(*resigner, std::chrono::seconds(config.resign_interval));
    (*repository)->set_publish_rebase(
        [key = &*keys->timestamp](PublishInput& input, const RepositoryView& current) {
          return RebaseUploadedTimestamp(input, current, *key);
        });
    spdlog::info("event=timestamp_resigner_started keyid={} snapshot_keyid={}",
                 keys->timestamp->public_key().KeyId(),
                 keys->snapshot ? keys->snapshot->public_key().KeyId() : std::string("none"));
  }

  std::unique_ptr<CrlDirectory> crl;
  if (!config.crl.empty()) {
    auto crl_pem = ReadText(config.crl, kMaxCrlFileBytes, "CRL");
    auto ca_pem = ReadText(config.client_ca, kMaxKeyFileBytes, "client CA");
    if (!crl_pem || !ca_pem) return StartupFailed(!crl_pem ? crl_pem.error() : ca_pem.error());
    auto made = CrlDirectory::Create(*crl_pem, *ca_pem, clock.Now());
    if (!made) return StartupFailed(made.error().WithContext(config.crl));
    crl = std::move(*made);
    spdlog::info("event=crl_loaded file={} crls={} revoked_certificates={}", config.crl,
                 crl->crl_count(), crl->revoked_count());
  }
  auto device_credentials = DeviceCredentials(config, crl.get());
  if (!device_credentials) return StartupFailed(device_credentials.error());
  std::shared_ptr<grpc::ServerCredentials> operator_credentials;
  if (!config.operator_listen.empty()) {
    auto made = OperatorListenerCredentials(config);
    if (!made) return StartupFailed(made.error());
    operator_credentials = *made;
  }

  std::shared_ptr<const OperatorCredentials> operators;
  if (!config.operator_credentials.empty()) {
    auto loaded = LoadOperatorCredentials(config.operator_credentials);
    if (!loaded) return StartupFailed(loaded.error());
    operators = std::move(*loaded);
    spdlog::info("event=operator_credentials_loaded count={}", operators->size());
  } else {
    spdlog::warn(
        "event=operator_auth_disabled detail=\"!!! NO OPERATOR AUTHENTICATION: without "
        "--operator-credentials anyone who can reach {} may publish. Development use on "
        "loopback only. !!!\"",
        config.operator_listen.empty() ? config.listen : config.operator_listen);
  }

  if (auto started =
          RecordStart(**audit, (*repository)->store(), config, operators ? operators->size() : 0);
      !started) {
    return StartupFailed(started.error().WithContext("audit log"));
  }
  spdlog::info("event=audit_log_opened head_hash={}", (*audit)->head_hash());

  const bool mutual_tls = !config.client_ca.empty();
  RateLimiter limiter(RateLimit{config.device_rate, config.device_burst});
  DeviceGuards device_guards;
  device_guards.certificate_identity = mutual_tls;
  device_guards.audit = audit->get();
  device_guards.rate_limiter = mutual_tls ? &limiter : nullptr;
  device_guards.report_writer.max_batch = static_cast<size_t>(config.report_batch_max);
  OperatorSettings operator_settings(MakeOperatorPolicy(config, operators));
  RefusalThrottle refusals(
      RateLimit{config.refused_credential_rate, config.refused_credential_burst},
      // All peers together: ten peers' worth, so many addresses cannot flood the log either.
      RateLimit{config.refused_credential_rate * 10, config.refused_credential_burst * 10},
      static_cast<double>(config.audit_summary_interval));
  std::unique_ptr<grpc::Service> device = NewDeviceService(**repository, clock, device_guards);
  std::unique_ptr<grpc::Service> operator_service =
      NewOperatorService(**repository, operator_settings, audit->get(), &refusals);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  const int device_bytes = static_cast<int>(config.device_max_message_bytes);
  const int operator_bytes = static_cast<int>(config.operator_max_message_bytes);
  // A publish sends each metadata file whole in one message (name and framing under 1 KiB).
  if (static_cast<uint64_t>(operator_bytes) < kMaxMetadataFileBytes + 1024) {
    spdlog::warn(
        "event=operator_message_limit_small operator_max_message_bytes={} detail=\"metadata "
        "files up to {} bytes are legal; a publish with a larger file than this limit allows "
        "fails with RESOURCE_EXHAUSTED\"",
        operator_bytes, kMaxMetadataFileBytes);
  }
  Listener device_listener;
  Listener operator_listener;
  if (config.operator_listen.empty()) {
    // One listener for both services: the larger limit applies to both.
    int bytes = std::max(device_bytes, operator_bytes);
    device_listener =
        StartListener(config.listen, *device_credentials, {device.get(), operator_service.get()},
                      bytes, bytes, config.max_connection_idle);
  } else {
    // Device responses carry metadata files (up to 16 MiB) and 1 MiB target chunks.
    device_listener =
        StartListener(config.listen, *device_credentials, {device.get()}, device_bytes,
                      std::max(operator_bytes, 17 << 20), config.max_connection_idle);
    operator_listener =
        StartListener(config.operator_listen, operator_credentials, {operator_service.get()},
                      operator_bytes, operator_bytes, config.max_connection_idle);
  }
  auto stop_all = [&] {
    for (Listener* l : {&device_listener, &operator_listener}) {
      if (l->server) l->server->Shutdown();
    }
  };
  if (!device_listener.server || device_listener.port == 0) {
    stop_all();
    spdlog::critical("event=startup_failed error=\"cannot listen on {}\"", config.listen);
    return 1;
  }
  if (!config.operator_listen.empty() &&
      (!operator_listener.server || operator_listener.port == 0)) {
    stop_all();
    spdlog::critical("event=startup_failed error=\"cannot listen on {}\"", config.operator_listen);
    return 1;
  }
  std::printf("repo-server listening on port %d\n", device_listener.port);
  if (operator_listener.server) {
    std::printf("repo-server operator listener on port %d\n", operator_listener.port);
  }
  std::fflush(stdout);
  for (const auto& [file, port] : {std::pair{config.operator_port_file, operator_listener.port},
                                   std::pair{config.port_file, device_listener.port}}) {
    if (file.empty()) continue;
    if (auto written = io::WriteFileAtomically(file, std::to_string(port) + "\n"); !written) {
      stop_all();
      return StartupFailed(written.error());
    }
  }
  spdlog::info(
      "event=listening address={} port={} tls={} mutual_tls={} crl={} operator_auth={} "
      "operator_address={} operator_port={} device_rate={} max_publish_bytes={}",
      config.listen, device_listener.port, !config.insecure, mutual_tls, crl != nullptr,
      operators != nullptr, config.operator_listen.empty() ? "shared" : config.operator_listen,
      operator_listener.port, mutual_tls ? config.device_rate : 0.0, config.max_publish_bytes);

  Reloadable reloadable{parse,
                        **audit,
                        mutual_tls ? &limiter : nullptr,
                        operator_settings,
                        crl.get(),
                        clock,
                        config,
                        operators ? FileDigest(config.operator_credentials, kMaxKeyFileBytes) : "",
                        crl ? FileDigest(config.crl, kMaxCrlFileBytes) : ""};
  std::thread signal_waiter([&] {
    int signal = 0;
    for (sigwait(&signals, &signal); signal == SIGHUP; sigwait(&signals, &signal)) {
      spdlog::info("event=reload_requested signal=SIGHUP");
      Reload(reloadable);
    }
    spdlog::info("event=shutdown_requested signal={}", signal);
    auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(config.shutdown_grace);
    for (Listener* l : {&device_listener, &operator_listener}) {
      if (l->server) l->server->GetHealthCheckService()->SetServingStatus(false);
    }
    std::thread operator_stop([&] {
      if (operator_listener.server) operator_listener.server->Shutdown(deadline);
    });
    device_listener.server->Shutdown(deadline);
    operator_stop.join();
  });
  device_listener.server->Wait();
  if (operator_listener.server) operator_listener.server->Wait();
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
      "the store is opened exclusively). `repo-server audit list --server ...` reads it "
      "from a running server (see `repo-server audit list --help`)",
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
  // Operator commands (clients of a running server): repo-server/ops_client/commands.h.
  if (ops::IsOperatorCommand(argc, argv)) return ops::RunOperatorCommand(argc, argv);
  if (argc > 1 && std::string_view(argv[1]) == "audit") return RunAuditCommand(argc - 1, argv + 1);
  ServerConfig config;
  CLI::App app{
      "repo-server: the TUF repository server. Serves signed metadata and targets to devices\n"
      "(DeviceService), accepts signed releases and answers the back office (OperatorService),\n"
      "re-signs timestamp.json (and optionally snapshot.json) with online keys read from\n"
      "encrypted key files, and collects device reports. Also serves grpc.health.v1.Health\n"
      "and server reflection on every listener.\n"
      "Devices use the --listen listener (mutual TLS with --client-ca, revocation with\n"
      "--crl, a per-device rate limit); operators use --operator-listen if given (TLS +\n"
      "bearer tokens), else the same listener. Settings may also come from --config FILE\n"
      "(flags override it). Every operator action, refused device-id claim and start\n"
      "configuration (with the settings changed since the previous start) is appended to a\n"
      "hash-chained audit log; check it with `repo-server audit verify --data-dir DIR`\n"
      "(see `repo-server audit --help`).\n"
      "Operator commands (clients of a running server's OperatorService; each has --help):\n"
      "  repo-server publish|status|devices|history|failures|find-devices|audit list\n"
      "    --server HOST:PORT (--ca-cert PEM | --insecure) (--token-file F | --token-env V)"};
  AddServerOptions(app, config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 1;
  }
  if (CLI::Option* file = app.get_option("--config"); file->count() > 0) {
    config.config_file = file->as<std::string>();
  }

  auto logger = spdlog::stderr_logger_mt("repo-server");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_default_logger(logger);

  if (auto valid = ValidateConfig(config); !valid) {
    spdlog::critical("event=usage_error error=\"{}\"", valid.error().message());
    return 1;
  }
  sigset_t signals = BlockShutdownSignals();
  // SIGHUP parses the same command line again (re-reading the --config file).
  ServerConfigParser parse = [argc, argv]() { return ParseServerConfig(argc, argv); };
  return Serve(config, signals, parse);
}

}  // namespace mdu::server
