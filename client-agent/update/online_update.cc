#include "client-agent/update/online_update.h"

#include <system_error>
#include <utility>

#include "client-agent/install/ab_dir_installer.h"
#include "client-agent/update/staging.h"
#include "core/client/metadata_store.h"
#include "core/client/updater.h"
#include "core/io/file.h"

namespace mdu::agent::update {
namespace {

std::string TrimSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Result<std::vector<Candidate>> Candidates(client::Updater& updater,
                                          const std::vector<std::string>& names) {
  std::vector<Candidate> candidates;
  if (names.empty()) {
    const metadata::Targets* top = updater.trusted_set()->targets();
    if (top == nullptr) return MakeError(ErrorKind::kInternal, "no trusted targets after refresh");
    for (const auto& [name, file] : top->targets) candidates.push_back({name, file});
    return candidates;
  }
  for (const std::string& name : names) {
    Result<std::optional<client::TargetMatch>> info = updater.GetTargetInfo(name);
    if (!info) return MakeError(info.error().WithContext("target \"" + name + "\""));
    if (!info->has_value()) {
      return MakeError(ErrorKind::kNotFound,
                       "target \"" + name + "\" is not listed by any trusted targets role");
    }
    candidates.push_back({name, (*info)->file});
  }
  return candidates;
}

}  // namespace

Result<OnlineUpdateResult> UpdateOnce(const OnlineUpdateOptions& options, client::Fetcher& fetcher,
                                      const client::Clock& clock, HealthChecker& health) {
  OnlineUpdateResult result;
  MDU_ASSIGN_OR_RETURN(StateStore store, StateStore::Open(options.state_dir));
  std::optional<install::AbDirInstaller> ab_dir;
  if (options.installer == nullptr) {
    MDU_ASSIGN_OR_RETURN(ab_dir, install::AbDirInstaller::Open(options.install_root));
  }
  install::Installer& installer =
      options.installer != nullptr ? *options.installer : static_cast<install::Installer&>(*ab_dir);
  UpdateTransaction transaction(store, installer, health);
  transaction.set_config_backup(options.config_backup);
  MDU_ASSIGN_OR_RETURN(result.recovered, transaction.Recover());

  std::error_code ec;
  if (!std::filesystem::is_regular_file(options.metadata_dir / "root.json", ec)) {
    return MakeError(ErrorKind::kNotFound, "metadata directory " + options.metadata_dir.string() +
                                               " holds no trusted root.json (run init first)");
  }
  MDU_ASSIGN_OR_RETURN(client::FileMetadataStore metadata,
                       client::FileMetadataStore::Open(options.metadata_dir));
  client::UpdaterConfig config;
  config.metadata_base_url = TrimSlashes(options.metadata_url);
  config.targets_base_url = TrimSlashes(options.target_base_url);
  client::Updater updater(config, fetcher, metadata, clock);
  MDU_RETURN_IF_ERROR(updater.Refresh());
  MDU_ASSIGN_OR_RETURN(std::vector<Candidate> candidates,
                       Candidates(updater, options.target_names));

  MDU_ASSIGN_OR_RETURN(DeviceState state, store.Load());
  const DeviceFacts device{options.hardware_id,
                           state.installed ? state.installed->target.version : std::string(),
                           state.security_floor};
  MDU_ASSIGN_OR_RETURN(result.selection, SelectTarget(device, candidates));
  if (!result.selection.selected) return result;
  const Selected& selected = *result.selection.selected;

  // 5.7: only a download verified against the signed length and hashes reaches the installer.
  Result<std::optional<client::TargetMatch>> match = updater.GetTargetInfo(selected.name);
  if (!match) return MakeError(match.error().WithContext("target \"" + selected.name + "\""));
  if (!match->has_value()) {
    return MakeError(ErrorKind::kNotFound, "target \"" + selected.name + "\" vanished");
  }
  // The installed-target record carries the release's signed SBOM reference (inventory).
  TargetRecord record = selected.record;
  AttachSbomReference((*match)->file.custom, record);
  // Resumable, with bounded retries (staging.h); a download that does not come through ends as
  // a refused transaction with its reason, recorded as the last result.
  MDU_ASSIGN_OR_RETURN(StagingArea staging_area, StagingArea::Open(options.state_dir));
  StageOptions staging = options.staging;
  if (options.on_refused_download) staging.on_refused = options.on_refused_download;
  MDU_ASSIGN_OR_RETURN(result.download, staging_area.Stage(updater, **match, staging));
  if (result.download->failure) {
    const DownloadFailure& failure = *result.download->failure;
    result.transaction = TransactionResult{Outcome::kRefused, failure.reason,
                                           failure.error.ToString(), record, std::nullopt};
    state.last_result = LastResult{Outcome::kRefused, failure.reason, failure.error.ToString(),
                                   record};
    MDU_RETURN_IF_ERROR(store.Save(state));
    return result;
  }
  const std::filesystem::path staged = result.download->file;

  if (options.admit) {
    if (std::optional<Rejection> refused = options.admit(selected)) {
      result.transaction = TransactionResult{Outcome::kRefused, refused->reason,
                                             refused->message, record, std::nullopt};
      return result;  // the verified download stays staged for the next attempt
    }
  }
  MDU_ASSIGN_OR_RETURN(result.transaction, transaction.Run({record, staged}));
  if (!result.transaction->stopped_at) MDU_RETURN_IF_ERROR(io::RemoveFileDurably(staged));
  return result;
}

}  // namespace mdu::agent::update
