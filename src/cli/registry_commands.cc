// lockstep registry gc [--dry-run] [--grace DURATION] [--upload-ttl DURATION]
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "cli/cli.h"
#include "config/config.h"
#include "registry/gc.h"

namespace lockstep::cli {

namespace {

struct GcArgs {
  bool dry_run = false;
  std::string grace = "1h";
  std::string upload_ttl;
};

}  // namespace

void AddRegistryCommands(CLI::App& app, Globals& g, ExitCode* exit) {
  // The callback owns the storage the options write into, so it lives as long as `app`.
  auto args = std::make_shared<GcArgs>();
  CLI::App* registry = app.add_subcommand("registry", "maintain the embedded registry");
  registry->require_subcommand(1);
  CLI::App* gc = registry->add_subcommand(
      "gc", "remove blobs and manifests nothing references (safe while the server runs)");
  gc->add_flag("--dry-run", args->dry_run, "report what would be removed, remove nothing");
  gc->add_option("--grace", args->grace, "keep anything written or wanted this recently")
      ->capture_default_str();
  gc->add_option("--upload-ttl", args->upload_ttl,
                 "expire upload sessions idle this long (default: the server config's, 24h)");
  AddDataOption(*gc, g);
  AddOutputOption(*gc, g);
  gc->callback([args, &g, exit] {
    std::optional<int64_t> grace = ParseDurationSeconds(args->grace);
    if (!grace)
      return void(*exit = Fail("--grace '" + args->grace + "' is not a duration like 30m or 1h"));
    Result<config::ServerConfig> config = config::LoadConfig(g.data_dir / "config.toml", false);
    if (!config.ok()) return void(*exit = Fail(config.status()));
    registry::GcOptions options{args->dry_run, *grace, config->upload_ttl_seconds};
    if (!args->upload_ttl.empty()) {
      std::optional<int64_t> ttl = ParseDurationSeconds(args->upload_ttl);
      if (!ttl)
        return void(*exit = Fail("--upload-ttl '" + args->upload_ttl + "' is not a duration"));
      options.upload_ttl_seconds = *ttl;
    }
    os::SystemClock clock;
    registry::Registry store(g.data_dir / "registry", config->registry, &clock);
    Result<registry::GcReport> report = registry::CollectGarbage(store, clock, options);
    if (!report.ok()) return void(*exit = Fail(report.status()));
    if (!args->dry_run && (!report->manifests_removed.empty() || !report->blobs_removed.empty())) {
      std::string manifests;
      for (size_t i = 0; i < report->manifests_removed.size() && i < 20; ++i) {
        manifests += (i == 0 ? ": " : ", ") + report->manifests_removed[i];
      }
      if (report->manifests_removed.size() > 20) manifests += ", ...";
      AuditLocally(g, "gc", "registry",
                   "removed " + std::to_string(report->manifests_removed.size()) + " manifests, " +
                       std::to_string(report->blobs_removed.size()) + " blobs (" +
                       HumanBytes(report->bytes_freed) + ")" + manifests);
    }
    if (g.output == "json") {
      boost::json::array manifests, blobs;
      for (const auto& m : report->manifests_removed) manifests.emplace_back(m);
      for (const auto& b : report->blobs_removed) blobs.emplace_back(b.str());
      boost::json::object out{{"dry_run", args->dry_run},
                              {"manifests_removed", manifests},
                              {"blobs_removed", blobs},
                              {"blob_links_removed", report->blob_links_removed},
                              {"bytes_freed", report->bytes_freed},
                              {"blobs_kept", report->blobs_kept},
                              {"uploads_expired", report->uploads_expired}};
      std::cout << boost::json::serialize(out) << "\n";
      return;
    }
    const char* verb = args->dry_run ? "would remove" : "removed";
    for (const auto& m : report->manifests_removed) std::cout << verb << " manifest " << m << "\n";
    std::cout << verb << " " << report->blobs_removed.size() << " blobs ("
              << HumanBytes(report->bytes_freed) << "), kept " << report->blobs_kept << "; expired "
              << report->uploads_expired << " idle uploads\n";
  });
}

}  // namespace lockstep::cli
