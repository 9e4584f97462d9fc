#include "repo-server/config.h"

#include <CLI/CLI.hpp>
#include <utility>

#include "core/common/loopback.h"

namespace mdu::server {
namespace {

void AddPassphraseFlags(CLI::App& app, PassphraseConfig& source, const std::string& prefix,
                        const std::string& what) {
  auto* env = app.add_option("--" + prefix + "-env", source.env_var,
                             "read " + what +
                                 " from this environment variable (unset after "
                                 "reading, so children do not inherit it)")
                  ->type_name("VAR");
  auto* fd = app.add_option("--" + prefix + "-fd", source.fd,
                            "read " + what + " as one line from this open file descriptor")
                 ->type_name("N")
                 ->check(CLI::NonNegativeNumber);
  auto* file = app.add_option("--" + prefix + "-file", source.file,
                              "read " + what + " from the first line of this file (mode 0600)")
                   ->type_name("PATH");
  env->excludes(fd)->excludes(file);
  fd->excludes(file);
}

int PassphraseSources(const PassphraseConfig& source) {
  return (source.env_var.empty() ? 0 : 1) + (source.fd < 0 ? 0 : 1) + (source.file.empty() ? 0 : 1);
}

json::Value PassphraseRecord(const PassphraseConfig& source) {
  if (!source.env_var.empty()) return json::Value("env:" + source.env_var);
  if (source.fd >= 0) return json::Value("fd:" + std::to_string(source.fd));
  if (!source.file.empty()) return json::Value("file:" + source.file);
  return json::Value(nullptr);
}

// A tunable value: its default shown in --help, a value outside `check` refused when parsed.
template <typename T>
void AddChecked(CLI::App& app, const std::string& name, T& value, const CLI::Validator& check,
                const std::string& help) {
  app.add_option(name, value, help)->capture_default_str()->check(check);
}

Status Usage(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, std::move(message));
}

}  // namespace

std::string HostOf(const std::string& address) {
  if (address.starts_with("[")) {
    size_t end = address.find(']');
    return end == std::string::npos ? address : address.substr(1, end - 1);
  }
  size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

void AddServerOptions(CLI::App& app, ServerConfig& c) {
  app.set_config("--config", "",
                 "TOML file of settings: `key = value` lines whose keys are the long flag names "
                 "without dashes (e.g. tls-cert = \"server.pem\", device-rate = 20); flags on "
                 "the command line override it; unknown keys are refused")
      ->type_name("FILE");
  app.allow_config_extras(CLI::config_extras_mode::error);

  // Device listener.
  app.add_option("--listen", c.listen,
                 "device listener address:port (DeviceService; also OperatorService unless "
                 "--operator-listen is given); port 0 picks a free port (printed on startup)")
      ->capture_default_str();
  app.add_flag("--insecure", c.insecure,
               "serve plaintext gRPC; refused unless every listener is a loopback address");
  app.add_option("--tls-cert", c.tls_cert, "PEM server certificate (chain) of the listeners");
  app.add_option("--tls-key", c.tls_key, "PEM private key of --tls-cert");
  app.add_option("--client-ca", c.client_ca,
                 "PEM device CA: the device listener requires mutual TLS; every device presents "
                 "a certificate issued by it, and device calls naming a device id must match "
                 "the certificate's URI SAN urn:mdu:device:<id> (PERMISSION_DENIED and an "
                 "audit record otherwise)")
      ->check(CLI::ExistingFile);
  app.add_option("--crl", c.crl,
                 "PEM certificate revocation list(s) of --client-ca: handshakes with a revoked "
                 "device certificate fail. Checked at start (issuer, signature, nextUpdate); "
                 "SIGHUP loads a newer version of the file (later lastUpdate)")
      ->check(CLI::ExistingFile);
  app.add_option("--port-file", c.port_file,
                 "write the device listener's bound port to this file once listening");

  // Operator listener.
  app.add_option("--operator-listen", c.operator_listen,
                 "separate operator listener address:port (OperatorService only): operators "
                 "authenticate with bearer tokens over server-authenticated TLS and need no "
                 "device-CA certificate; the device listener then serves DeviceService only");
  app.add_option("--operator-tls-cert", c.operator_tls_cert,
                 "PEM certificate of the operator listener (default: --tls-cert)");
  app.add_option("--operator-tls-key", c.operator_tls_key,
                 "PEM key of --operator-tls-cert (default: --tls-key)");
  app.add_option("--operator-port-file", c.operator_port_file,
                 "write the operator listener's bound port to this file once listening");
  app.add_option("--operator-credentials", c.operator_credentials,
                 "JSON list of {name, role: publisher|viewer, token_sha256}; operator calls "
                 "carry 'authorization: Bearer <token>'. Required with TLS; without it (only "
                 "with --insecure on loopback) operator calls are NOT authenticated")
      ->check(CLI::ExistingFile);

  // Repository.
  app.add_option("--data-dir", c.data_dir, "RocksDB directory (created if missing)")->required();
  app.add_option("--trusted-root", c.trusted_root,
                 "root metadata trusted by configuration: the trust anchor of the first publish "
                 "and the start of the stored root chain (never trusted from the network)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--static-mirror-dir", c.static_mirror_dir,
                 "after every publish, materialize the TUF static tree here (DIR/current is a "
                 "symlink swapped atomically) for nginx or a CDN");

  // Online keys.
  app.add_option("--timestamp-key", c.timestamp_key,
                 "encrypted timestamp key file (mdu-encrypted-key v1, from `signer "
                 "export-online-key timestamp`): enables scheduled re-signing of "
                 "timestamp.json. Its passphrase comes from one of "
                 "--timestamp-passphrase-env/-fd/-file")
      ->check(CLI::ExistingFile);
  AddPassphraseFlags(app, c.timestamp_passphrase, "timestamp-passphrase",
                     "the timestamp key's passphrase");
  app.add_option("--snapshot-key", c.snapshot_key,
                 "encrypted snapshot key file (optional, needs --timestamp-key): snapshot.json "
                 "is re-signed too when it expires within --timestamp-margin. Passphrase from "
                 "--snapshot-passphrase-env/-fd/-file")
      ->check(CLI::ExistingFile);
  AddPassphraseFlags(app, c.snapshot_passphrase, "snapshot-passphrase",
                     "the snapshot key's passphrase");
  app.add_option("--timestamp-key-insecure-file", c.timestamp_key_insecure_file,
                 "DEVELOPMENT ONLY, INSECURE: an UNENCRYPTED PKCS#8 DER timestamp key (tests "
                 "and demos); refused together with --timestamp-key. Use --timestamp-key")
      ->check(CLI::ExistingFile);
  app.add_option("--timestamp-key-scheme", c.timestamp_key_scheme,
                 "scheme of --timestamp-key-insecure-file: ed25519, ecdsa-sha2-nistp256, "
                 "rsassa-pss-sha256 (encrypted key files name their scheme)")
      ->capture_default_str();
  AddChecked(app, "--timestamp-validity", c.timestamp_validity, CLI::PositiveNumber,
             "seconds a re-signed timestamp stays valid");
  AddChecked(app, "--timestamp-margin", c.timestamp_margin, CLI::PositiveNumber,
             "re-sign when the current timestamp (or snapshot) expires within this many seconds");
  AddChecked(app, "--snapshot-validity", c.snapshot_validity, CLI::PositiveNumber,
             "seconds a re-signed snapshot stays valid (with --snapshot-key)");
  AddChecked(app, "--resign-interval", c.resign_interval, CLI::PositiveNumber,
             "seconds between checks of the timestamp's expiry");
  AddChecked(app, "--timestamp-history", c.timestamp_history, CLI::NonNegativeNumber,
             "keep only this many timestamp versions in the store (the newest; each publish or "
             "re-signing deletes older ones in its own atomic write; devices only fetch the "
             "current timestamp.json); 0 keeps every version");

  // Limits.
  AddChecked(app, "--device-max-message-bytes", c.device_max_message_bytes, CLI::PositiveNumber,
             "largest message the device listener receives (with a shared listener the larger of "
             "the two limits applies; device handlers also bound every field)");
  AddChecked(app, "--operator-max-message-bytes", c.operator_max_message_bytes, CLI::PositiveNumber,
             "largest message the operator listener receives or sends (one metadata file or "
             "target chunk of a publish; below 16 MiB + 1 KiB a legal metadata file may not fit, "
             "which the server warns about at start)");
  AddChecked(app, "--max-publish-bytes", c.max_publish_bytes, CLI::PositiveNumber,
             "cap on all bytes of one publish (metadata and targets): RESOURCE_EXHAUSTED when "
             "crossed");
  AddChecked(app, "--max-target-bytes", c.max_target_bytes, CLI::PositiveNumber,
             "cap on the bytes of one uploaded target: RESOURCE_EXHAUSTED when crossed");
  AddChecked(app, "--publish-timeout", c.publish_timeout, CLI::PositiveNumber,
             "seconds a publish stream may take from its first message to its commit "
             "(DEADLINE_EXCEEDED after); a client's own shorter deadline is honoured too");
  AddChecked(app, "--device-rate", c.device_rate, CLI::NonNegativeNumber,
             "per-device calls per second (token bucket keyed by the device id of the client "
             "certificate, so only with --client-ca); over it: RESOURCE_EXHAUSTED. 0 disables");
  AddChecked(app, "--device-burst", c.device_burst, CLI::Range(1.0, 1e9),
             "calls a device may make at once before --device-rate applies");
  AddChecked(app, "--max-connection-idle", c.max_connection_idle, CLI::NonNegativeNumber,
             "seconds after which a connection without calls is closed (0: never)");

  AddChecked(app, "--max-concurrent-publishes", c.max_concurrent_publishes,
             CLI::Range(int64_t{1}, int64_t{64}),
             "publish streams served at once; one more gets RESOURCE_EXHAUSTED (audited as "
             "publish_rejected)");
  AddChecked(app, "--publish-idle-timeout", c.publish_idle_timeout, CLI::PositiveNumber,
             "seconds a publish stream may send nothing before the server ends it "
             "(DEADLINE_EXCEEDED, audited), whatever the client's deadline");
  AddChecked(app, "--refused-credential-rate", c.refused_credential_rate, CLI::NonNegativeNumber,
             "refused operator credentials audited one by one per peer address and second (token "
             "bucket); beyond it refusals are counted into one credential_refusals_suppressed "
             "record per --audit-summary-interval");
  AddChecked(app, "--refused-credential-burst", c.refused_credential_burst, CLI::Range(1.0, 1e6),
             "refused operator credentials a peer may have audited at once");
  AddChecked(app, "--audit-summary-interval", c.audit_summary_interval, CLI::PositiveNumber,
             "seconds between summary records of suppressed audit records");
  AddChecked(app, "--report-batch-max", c.report_batch_max, CLI::Range(int64_t{1}, int64_t{4096}),
             "device reports written per synced store write (group commit of concurrent reports; "
             "1 writes each report with its own sync)");

  // Process.
  AddChecked(app, "--shutdown-grace", c.shutdown_grace, CLI::NonNegativeNumber,
             "on SIGTERM/SIGINT, seconds in-flight calls get to finish before they are cancelled");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, critical")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}));
}

Result<ServerConfig> ParseServerConfig(int argc, char** argv) {
  ServerConfig config;
  CLI::App app;
  AddServerOptions(app, config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return MakeError(ErrorKind::kInvalidArgument, std::string("configuration: ") + e.what());
  }
  if (CLI::Option* file = app.get_option("--config"); file->count() > 0) {
    config.config_file = file->as<std::string>();
  }
  MDU_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

Status ValidateConfig(const ServerConfig& c) {
  bool has_tls = !c.tls_cert.empty() || !c.tls_key.empty();
  if (c.insecure && has_tls) return Usage("--insecure and --tls-cert/--tls-key exclude each other");
  if (c.insecure && !IsLoopbackHost(HostOf(c.listen))) {
    return Usage("--insecure is only allowed on a loopback address, not " + c.listen);
  }
  if (c.insecure && !c.operator_listen.empty() && !IsLoopbackHost(HostOf(c.operator_listen))) {
    return Usage("--insecure is only allowed on a loopback address, not " + c.operator_listen);
  }
  if (!c.insecure && (c.tls_cert.empty() || c.tls_key.empty())) {
    return Usage("TLS needs --tls-cert and --tls-key (or --insecure on loopback)");
  }
  if (c.insecure && (!c.operator_tls_cert.empty() || !c.operator_tls_key.empty())) {
    return Usage("--operator-tls-cert/--operator-tls-key need TLS, not --insecure");
  }
  if (c.operator_tls_cert.empty() != c.operator_tls_key.empty()) {
    return Usage("--operator-tls-cert and --operator-tls-key go together");
  }
  if (c.operator_listen.empty() &&
      (!c.operator_tls_cert.empty() || !c.operator_port_file.empty())) {
    return Usage("--operator-tls-cert/--operator-port-file need --operator-listen");
  }
  if (!c.client_ca.empty() && c.insecure) return Usage("--client-ca needs TLS, not --insecure");
  if (!c.crl.empty() && c.client_ca.empty()) {
    return Usage("--crl revokes device certificates: it needs --client-ca");
  }
  if (!c.insecure && c.operator_credentials.empty()) {
    return Usage("with TLS, operator calls need --operator-credentials");
  }
  if (!c.timestamp_key.empty() && !c.timestamp_key_insecure_file.empty()) {
    return Usage("--timestamp-key and --timestamp-key-insecure-file exclude each other");
  }
  if (!c.snapshot_key.empty() && c.timestamp_key.empty()) {
    return Usage("--snapshot-key needs --timestamp-key (a new snapshot needs a new timestamp)");
  }
  struct KeyAndSource {
    const std::string& key;
    const PassphraseConfig& source;
    const char* name;
  };
  for (const KeyAndSource& k : {KeyAndSource{c.timestamp_key, c.timestamp_passphrase, "timestamp"},
                                KeyAndSource{c.snapshot_key, c.snapshot_passphrase, "snapshot"}}) {
    int sources = PassphraseSources(k.source);
    std::string name = k.name;
    if (!k.key.empty() && sources != 1) {
      return Usage("--" + name + "-key needs exactly one of --" + name + "-passphrase-env, --" +
                   name + "-passphrase-fd, --" + name +
                   "-passphrase-file (the server never prompts)");
    }
    if (k.key.empty() && sources != 0) {
      return Usage("--" + name + "-passphrase-* given without --" + name + "-key");
    }
  }
  if (c.device_max_message_bytes <= 0 || c.operator_max_message_bytes <= 0 ||
      c.device_max_message_bytes > (int64_t{1} << 30) ||
      c.operator_max_message_bytes > (int64_t{1} << 30)) {
    return Usage("message size limits must be 1 byte .. 1 GiB");
  }
  return {};
}

json::Value ConfigRecord(const ServerConfig& c) {
  return json::Value::MakeObject({
      {"config", json::Value(c.config_file)},
      {"listen", json::Value(c.listen)},
      {"insecure", json::Value(c.insecure)},
      {"tls_cert", json::Value(c.tls_cert)},
      {"mutual_tls", json::Value(!c.client_ca.empty())},
      {"client_ca", json::Value(c.client_ca)},
      {"crl", json::Value(c.crl)},
      {"operator_listen", json::Value(c.operator_listen)},
      {"operator_tls_cert", json::Value(c.operator_tls_cert)},
      {"operator_credentials", json::Value(c.operator_credentials)},
      {"trusted_root", json::Value(c.trusted_root)},
      {"static_mirror_dir", json::Value(c.static_mirror_dir)},
      {"timestamp_key", json::Value(c.timestamp_key)},
      {"timestamp_passphrase", PassphraseRecord(c.timestamp_passphrase)},
      {"snapshot_key", json::Value(c.snapshot_key)},
      {"snapshot_passphrase", PassphraseRecord(c.snapshot_passphrase)},
      {"timestamp_key_insecure_file", json::Value(c.timestamp_key_insecure_file)},
      {"timestamp_resigning",
       json::Value(!c.timestamp_key.empty() || !c.timestamp_key_insecure_file.empty())},
      {"timestamp_validity", json::Value(c.timestamp_validity)},
      {"timestamp_margin", json::Value(c.timestamp_margin)},
      {"snapshot_validity", json::Value(c.snapshot_validity)},
      {"timestamp_history", json::Value(c.timestamp_history)},
      {"device_max_message_bytes", json::Value(c.device_max_message_bytes)},
      {"operator_max_message_bytes", json::Value(c.operator_max_message_bytes)},
      {"max_publish_bytes", json::Value(c.max_publish_bytes)},
      {"max_target_bytes", json::Value(c.max_target_bytes)},
      {"publish_timeout", json::Value(c.publish_timeout)},
      // Rates as milli-calls per second: canonical JSON has no floats.
      {"device_rate_milli", json::Value(static_cast<int64_t>(c.device_rate * 1000))},
      {"device_burst", json::Value(static_cast<int64_t>(c.device_burst))},
      {"max_connection_idle", json::Value(c.max_connection_idle)},
      {"max_concurrent_publishes", json::Value(c.max_concurrent_publishes)},
      {"publish_idle_timeout", json::Value(c.publish_idle_timeout)},
      {"refused_credential_rate_milli",
       json::Value(static_cast<int64_t>(c.refused_credential_rate * 1000))},
      {"refused_credential_burst", json::Value(static_cast<int64_t>(c.refused_credential_burst))},
      {"audit_summary_interval", json::Value(c.audit_summary_interval)},
      {"report_batch_max", json::Value(c.report_batch_max)},
  });
}

json::Value ConfigChanges(const json::Value& previous, const json::Value& current) {
  json::Object changes;
  static const json::Value kNull;
  auto lookup = [](const json::Value& record, const std::string& key) -> const json::Value& {
    const json::Value* found = record.is_object() ? record.Find(key) : nullptr;
    return found != nullptr ? *found : kNull;
  };
  auto add = [&](const std::string& key) {
    const json::Value& old_value = lookup(previous, key);
    const json::Value& new_value = lookup(current, key);
    if (old_value == new_value) return;
    for (const auto& [seen, unused] : changes) {
      if (seen == key) return;
    }
    changes.emplace_back(key, json::Value::MakeObject({{"old", old_value}, {"new", new_value}}));
  };
  if (current.is_object()) {
    for (const auto& [key, unused] : current.as_object()) add(key);
  }
  if (previous.is_object()) {
    for (const auto& [key, unused] : previous.as_object()) add(key);
  }
  return json::Value::MakeObject(std::move(changes));
}

}  // namespace mdu::server
