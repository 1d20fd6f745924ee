#include "app/serve.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <csignal>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "api/engine/engine_api.h"
#include "api/registry/oci_errors.h"
#include "api/registry/registry_api.h"
#include "app/fetcher.h"
#include "app/periodic.h"
#include "attest/attestation.h"
#include "auth/auth.h"
#include "base/strings.h"
#include "config/config.h"
#include "engine/engine.h"
#include "git/mirror.h"
#include "http/http_server.h"
#include "http/routes.h"
#include "os/clock.h"
#include "os/process.h"
#include "proxy/proxy.h"
#include "registry/attach.h"
#include "registry/embedded_fetch.h"
#include "registry/registry.h"
#include "runtime/local/local_target.h"
#include "state/engine_state.h"
#include "state/token_store.h"

namespace lockstep::app {

using http::Exchange;
using http::HttpServer;
using http::HttpServerOptions;
using http::Response;
using http::Task;

namespace {

Result<HttpServerOptions> ParseListen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  std::optional<uint64_t> port;
  if (colon != std::string_view::npos) port = ParseUint(listen.substr(colon + 1));
  if (!port || *port > 65535) {
    return InvalidArgument("--listen '" + std::string(listen) +
                           "' must be ADDRESS:PORT, e.g. 127.0.0.1:5000 (port 0 picks a free one)");
  }
  std::string address(listen.substr(0, colon));
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  HttpServerOptions o;
  o.address = address;
  o.port = static_cast<uint16_t>(*port);
  return o;
}

// An address only this machine can reach.
bool IsLoopbackAddress(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0 ||
         address.rfind("::ffff:127.", 0) == 0;
}

// SCHEME://ADDRESS:PORT of the listening socket, for a server given no public URL.
// A wildcard address is no place to send a client: it becomes this machine's loopback.
std::string DefaultPublicUrl(std::string_view scheme, const std::string& address, uint16_t port) {
  std::string host = address == "0.0.0.0" ? "127.0.0.1" : address == "::" ? "::1" : address;
  bool ipv6 = host.find(':') != std::string::npos;
  return std::string(scheme) + "://" + (ipv6 ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// The local target and its front proxy, when enabled and possible here. Containers outlive
// the server: on start it re-adopts them and serves the saved routes.
struct LocalRuntime {
  runtime::Router router;
  std::unique_ptr<runtime::local::LocalTarget> target;
  std::unique_ptr<proxy::Proxy> proxy;
};

Status StartRuntime(const config::RuntimeConfig& config, const std::filesystem::path& dir,
                    const registry::Registry& registry, const std::string& own_address,
                    LocalRuntime& rt, std::ostream& out) {
  if (geteuid() != 0) {
    return FailedPrecondition("the local runtime needs root (runc, overlay mounts, cgroups)",
                              "run as root, or set [runtime] enabled = false");
  }
  runtime::local::LocalTargetOptions options;
  options.dir = dir;
  options.router = &rt.router;
  options.log_bytes = config.log_bytes;
  options.fetch = [&registry, own_address](const ImageRef& ref, image::OciLayout& into) {
    return FetchFromEmbedded(registry, own_address, ref, into);
  };
  LS_ASSIGN_OR_RETURN(rt.target, runtime::local::LocalTarget::Open(std::move(options)));
  LS_ASSIGN_OR_RETURN(rt.proxy, proxy::Proxy::Start(rt.router, {.address = config.proxy_address}));
  LS_ASSIGN_OR_RETURN(std::vector<runtime::ObservedInstance> running, rt.target->Observe(""));
  out << "lockstep: local runtime in " << dir.string() << " (" << running.size()
      << " instances running)\n";
  for (const auto& [port, backend] : rt.router.Current()->by_port) {
    out << "lockstep: routing " << backend->environment << "/" << backend->service << " on "
        << config.proxy_address << ":" << port << " to " << backend->instance_id << "\n";
  }
  return Status::Ok();
}

// The engine over the local target: its own state database, the deploy repository's
// mirror (when one is configured), recovery of what a crash left, and its API.
struct EngineParts {
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<attest::Signer> signer;  // the attestation key
  std::unique_ptr<git::Mirror> mirror;
  std::unique_ptr<Fetcher> fetcher;  // fetches `mirror` on the interval and when asked
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<api::EngineApi> api;
};

// Publishes an attestation as a referrer of its image in `registry`, when the image is
// there (an image of another registry keeps its attestations here only).
Status PublishAttestation(registry::Registry& registry, const state::AttestationRecord& a) {
  LS_ASSIGN_OR_RETURN(attest::Attestation statement, attest::ParsePayload(a.payload));
  LS_ASSIGN_OR_RETURN(Digest subject, Digest::Parse(a.digest));
  if (!registry.RepositoryExists(statement.repository)) {
    return FailedPrecondition(statement.repository + " is not in this server's registry");
  }
  std::string envelope = boost::json::serialize(boost::json::object{
      {"payload", a.payload}, {"signature", a.signature}, {"key_id", a.key_id}});
  return registry::Attach(
             registry, statement.repository, subject,
             {.artifact_type = std::string(attest::kMediaType),
              .content = std::move(envelope),
              .annotations = {{"dev.lockstep.attestation.kind", a.kind},
                              {"dev.lockstep.environment", a.environment},
                              {"org.opencontainers.image.created", FormatRfc3339(a.at)}}})
      .status();
}

Status StartEngine(const config::DeployConfig& config, const std::filesystem::path& data,
                   registry::Registry& registry, state::TokenStore& tokens, const os::Clock& clock,
                   runtime::Target& target, const auth::Authenticator& auth,
                   http::BlockingPool& pool, http::BlockingPool& invocations, EngineParts& parts,
                   std::ostream& out) {
  if (parts.store == nullptr) {
    LS_ASSIGN_OR_RETURN(parts.store,
                        state::OpenSqliteStateStore((data / "engine.db").string(), &clock));
  }
  if (!config.repo.empty()) {
    git::RemoteOptions remote{.url = config.repo,
                              .branch = config.branch,
                              .ssh_key = config.ssh_key,
                              .known_hosts = config.known_hosts};
    if (!config.https_token_file.empty()) {
      LS_ASSIGN_OR_RETURN(remote.https_token, os::ReadFile(config.https_token_file));
      while (!remote.https_token.empty() &&
             std::isspace(static_cast<unsigned char>(remote.https_token.back()))) {
        remote.https_token.pop_back();
      }
    }
    LS_ASSIGN_OR_RETURN(parts.mirror, git::Mirror::Open(data / "deploy.git", remote));
    Result<std::string> head = parts.mirror->Fetch();
    out << "lockstep: deploy repository " << config.repo << " (" << config.branch << ") "
        << (head.ok() ? "at " + head->substr(0, 12) : "not fetched: " + head.status().ToString())
        << "\n";
  } else {
    out << "lockstep: no deploy repository configured ([deploy] repo in config.toml)\n";
  }
  engine::ApplyOptions options{
      .health_timeout = std::chrono::milliseconds(config.health_timeout_ms),
      .max_plan_age = std::chrono::seconds(config.max_plan_age_seconds),
      .approval_max_age = std::chrono::seconds(config.approval_max_age_seconds),
      .branch = config.branch,
      // An approval counts while its token still approves the environment.
      .approver_stands = [&tokens](const std::string& approver, const std::string& environment) {
        Result<Identity> who = tokens.FindByName(approver);
        return who.ok() && who->Allows(Action::kApprove, environment);
      }};
  if (const char* kill = std::getenv("LOCKSTEP_TEST_KILL_AFTER_STEP")) {
    options.kill_after_step = static_cast<int64_t>(ParseUint(kill).value_or(0));
  }
  LS_ASSIGN_OR_RETURN(parts.signer,
                      attest::Signer::LoadOrCreate(data / "secrets" / "attestation.key"));
  out << "lockstep: attestations signed with key " << parts.signer->key_id().substr(0, 16)
      << " (public at /api/v1/attestations/key)\n";
  parts.engine = std::make_unique<engine::Engine>(
      // Releases name the embedded registry "embedded", not by an address that changes
      // with --listen; the local target fetches those from the store.
      engine::PlanSources{parts.mirror.get(), parts.store.get(), &target, registry::kEmbedded},
      clock, options, parts.signer.get());
  parts.engine->attestor().SetPublish(
      [&registry](const state::AttestationRecord& a) { return PublishAttestation(registry, a); });
  LS_ASSIGN_OR_RETURN(std::vector<std::string> recovered, parts.engine->Recover());
  for (const std::string& line : recovered) out << "lockstep: recovered " << line << "\n";
  if (parts.mirror != nullptr) {
    parts.fetcher = std::make_unique<Fetcher>(*parts.mirror,
                                              std::chrono::seconds(config.fetch_interval_seconds));
  }
  Fetcher* fetcher = parts.fetcher.get();
  parts.api = std::make_unique<api::EngineApi>(
      parts.engine.get(), &auth, &pool,
      api::EngineApiOptions{.branch = config.branch,
                            .webhook_secret = config.webhook_secret,
                            .fetch = [fetcher]() -> Status {
                              if (fetcher == nullptr) {
                                return FailedPrecondition("no deploy repository is configured");
                              }
                              return fetcher->FetchNow(std::chrono::seconds(10));
                            },
                            .invoke_pool = &invocations});
  return Status::Ok();
}

}  // namespace

Status Serve(const ServeOptions& options, std::ostream& out) {
  // A peer that goes away during sendfile(2) must cost that response, not the process.
  std::signal(SIGPIPE, SIG_IGN);
  // SIGHUP reads the TLS files again once serving; one that comes while starting (the files
  // are read then anyway) must not end the process.
  std::signal(SIGHUP, SIG_IGN);
  LS_ASSIGN_OR_RETURN(HttpServerOptions http, ParseListen(options.listen));
  if (options.dev && !options.dev_anywhere && !IsLoopbackAddress(http.address)) {
    return FailedPrecondition(
        "--dev makes every caller an admin, and " + http.address +
            " can be reached from other machines",
        "listen on 127.0.0.1 for development, or add --dev-anywhere if that network is yours "
        "alone");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return InvalidArgument("--tls-cert and --tls-key go together",
                           "give both to serve HTTPS, or neither for plain HTTP");
  }
  if (!options.tls_cert.empty()) http.tls = http::TlsFiles{options.tls_cert, options.tls_key};
  const std::string_view scheme = http.tls ? "https" : "http";
  http.threads = options.threads > 0
                     ? options.threads
                     : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()));
  std::filesystem::path config_path =
      options.config_file.empty() ? options.data_dir / "config.toml" : options.config_file;
  LS_ASSIGN_OR_RETURN(config::ServerConfig config,
                      config::LoadConfig(config_path, !options.config_file.empty()));
  http.limits = {.max_connections = config.max_connections,
                 .idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms),
                 .header_timeout = std::chrono::milliseconds(config.header_timeout_ms),
                 .send_timeout = std::chrono::milliseconds(config.send_timeout_ms),
                 .body_min_rate = config.body_min_rate};
  // Each connection is a descriptor: take what the hard limit allows, so the connection
  // cap, not EMFILE, is what refuses clients.
  os::RaiseOpenFileLimit();
  std::string public_url = config.public_url;
  if (!options.public_url.empty()) {
    LS_ASSIGN_OR_RETURN(public_url, config::ParsePublicUrl(options.public_url, "--public-url"));
  }

  // Blobs, tokens and keys are for lockstep alone: the data directory and each store in it
  // are private to the user running it, and a looser existing one is refused.
  LS_RETURN_IF_ERROR(os::MakePrivateDir(options.data_dir));
  for (const char* store : {"registry", "secrets", "runtime"}) {
    LS_RETURN_IF_ERROR(os::MakePrivateDir(options.data_dir / store));
  }
  os::SystemClock clock;
  registry::Registry registry(options.data_dir / "registry", config.registry, &clock);
  // Pushes a crash interrupted: their journaled tags move now, their temporaries go. A
  // repository that cannot be finished refuses its own writes, and says why; the rest
  // is served.
  if (Status recovered = registry.Recover(); !recovered.ok()) {
    out << "lockstep: could not finish what a crash left: " << recovered.ToString() << "\n";
  }
  LS_ASSIGN_OR_RETURN(auto tokens,
                      state::TokenStore::Open((options.data_dir / "state.db").string(), &clock));
  LS_ASSIGN_OR_RETURN(std::string key, auth::LoadOrCreateSigningKey(
                                           (options.data_dir / "secrets" / "bearer.key").string()));
  auth::Authenticator auth(tokens.get(), std::move(key), &clock, options.dev);
  // Locks, fsyncs and token lookups wait here, not on the threads serving connections:
  // four threads let that many commits wait out a GC while more queue, and lookups have
  // threads of their own.
  http::BlockingPool commits(4);
  http::BlockingPool lookups(2);
  // The engine's reads of its store, git and the target: beside, never in front of, commits.
  http::BlockingPool engine_work(2);
  // Function calls, each as long as its function runs.
  http::BlockingPool invocations(4);
  // Made once the port is bound: the default public URL names it.
  std::optional<api::RegistryApi> api;

  http::Routes routes;
  auto registry_api = [&api](Exchange& ex) { return api->Handle(ex); };
  routes.Prefix("/v2", registry_api);
  routes.Exact("/auth/token", registry_api);
  // Set once the local target runs; until then (or without it) the engine is off.
  EngineParts engine;
  std::string engine_off = "the engine is starting";
  routes.Prefix("/api/v1", [&engine, &engine_off](Exchange& ex) -> Task<void> {
    if (engine.api == nullptr) {
      co_await ex.Send(api::ApiError(Unavailable(engine_off)));
      co_return;
    }
    co_await engine.api->Handle(ex);
  });
  routes.Exact("/healthz", [](Exchange& ex) -> Task<void> {
    Response ok;
    ok.body = "ok\n";
    co_await ex.Send(std::move(ok));
  });
  routes.Fallback([](Exchange& ex) -> Task<void> {
    const std::string& target = ex.request().target;
    co_await ex.Send(
        api::OciError(404, "NOT_FOUND", "no endpoint at " + target.substr(0, target.find('?'))));
  });
  http::Handler handler = [&routes](Exchange& ex) { return routes.Handle(ex); };
  LS_ASSIGN_OR_RETURN(std::unique_ptr<HttpServer> server, HttpServer::Bind(http, handler));
  if (public_url.empty()) {
    public_url = DefaultPublicUrl(scheme, http.address, server->port());
    if (http.address == "0.0.0.0" || http.address == "::") {
      out << "lockstep: auth challenges send clients to " << public_url
          << "/auth/token, which other machines cannot reach; set --public-url\n";
    }
  }
  // The audit log is the engine's, and holds the registry's changes too, engine or not.
  // (A failure to write it is said on `out`, from the commit pool's threads.)
  std::mutex out_mu;
  LS_ASSIGN_OR_RETURN(
      engine.store, state::OpenSqliteStateStore((options.data_dir / "engine.db").string(), &clock));
  api.emplace(&registry, &auth, &commits, &lookups, public_url,
              [store = engine.store.get(), &out, &out_mu](const state::AuditRecord& record) {
                if (Status s = store->Audited(record); !s.ok()) {
                  std::lock_guard lock(out_mu);
                  out << "lockstep: the audit log missed " << record.action << " " << record.target
                      << " by " << record.actor << ": " << s.ToString() << "\n"
                      << std::flush;
                }
              });

  out << "lockstep: data in " << options.data_dir.string() << "\n";
  if (options.dev) {
    out << "lockstep: DEV MODE: requests without credentials act as admin; never expose this "
           "port\n";
  } else if (Result<std::vector<state::TokenInfo>> known = tokens->List();
             known.ok() && known->empty()) {
    out << "lockstep: no tokens yet, so every request is refused; create the first with: "
           "lockstep token create --role admin --data "
        << options.data_dir.string() << "\n";
  }
  out << "lockstep: serving the registry on " << scheme << "://" << http.address << ":"
      << server->port() << "/v2/" << (http.tls ? " (TLS; SIGHUP reads the certificate again)" : "")
      << "\n"
      << std::flush;

  LocalRuntime runtime;
  if (config.runtime.enabled) {
    std::string own = http.address + ":" + std::to_string(server->port());
    Status started =
        StartRuntime(config.runtime, options.data_dir / "runtime", registry, own, runtime, out);
    if (!started.ok()) out << "lockstep: local runtime off: " << started.ToString() << "\n";
    out << std::flush;
  }
  if (runtime.target != nullptr) {
    Status started = StartEngine(config.deploy, options.data_dir, registry, *tokens, clock,
                                 *runtime.target, auth, engine_work, invocations, engine, out);
    if (!started.ok()) {
      // The store stays: the registry's audit log is written there.
      std::unique_ptr<state::StateStore> store = std::move(engine.store);
      engine = EngineParts{};
      engine.store = std::move(store);
      engine_off = "the engine is off: " + started.ToString();
      out << "lockstep: " << engine_off << "\n";
    }
  } else {
    engine_off = "the engine is off: it needs the local runtime ([runtime] enabled, as root)";
  }
  // A tick every few seconds: the scheduled functions' runs of the minute (each minute's
  // run is recorded once, so late or repeated ticks do not run it twice), and the standbys
  // whose rollback window ended.
  std::optional<Periodic> schedules;
  if (engine.engine != nullptr) {
    engine::Engine* e = engine.engine.get();
    schedules.emplace(std::chrono::seconds(5), [e, &clock, &out] {
      Result<int> started = e->functions().RunDue(clock.NowSeconds());
      if (!started.ok())
        out << "lockstep: scheduled functions: " << started.status().ToString() << "\n"
            << std::flush;
      for (const std::string& line : e->RetireExpiredStandbys(clock.NowSeconds())) {
        out << "lockstep: rollback window ended: retired " << line << "\n" << std::flush;
      }
      Result<std::vector<std::string>> attested = e->AttestSoaks();
      if (!attested.ok()) {
        out << "lockstep: soaks: " << attested.status().ToString() << "\n" << std::flush;
      }
      for (const std::string& line : attested.ok() ? *attested : std::vector<std::string>{}) {
        out << "lockstep: " << line << "\n" << std::flush;
      }
    });
  }
  out << std::flush;

  const int64_t ttl = config.upload_ttl_seconds;
  Periodic expire_uploads(std::chrono::minutes(1),
                          [&registry, ttl] { registry.uploads().ExpireIdle(ttl); });
  server->Run();
  std::signal(SIGHUP, SIG_IGN);  // while it winds down, as while it started
  schedules.reset();
  commits.Finish();
  engine_work.Finish();
  invocations.Finish();
  engine.api.reset();
  engine.engine.reset();  // running applies stop and undo what they staged
  lookups.Finish();
  out << "lockstep: stopped\n";
  return Status::Ok();
}

}  // namespace lockstep::app
