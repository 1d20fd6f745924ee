// lockstep promote SERVICE... --from A --to B [--reason TEXT] | --all --from A --to B
// lockstep attestations SERVICE [DIGEST] [--output json]
// lockstep verify DIGEST [--key FILE] [--output json]
//
// Promotion and its proof: promote asks the server to pin B to what runs in A; the
// attestations are what the server signed on the way; verify checks their signatures with
// the server's public key alone (fetched from /api/v1/attestations/key, or a file kept
// apart), so a digest's chain can be checked without trusting the server's word for it.
#include <boost/json.hpp>
#include <iostream>

#include "attest/attestation.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/engine_client.h"
#include "core/digest.h"
#include "core/release.h"
#include "os/file.h"

namespace lockstep::cli {

namespace bj = boost::json;

namespace {

struct PromoteArgs {
  std::vector<std::string> services;
  std::string from, to, reason;
  bool all = false;
  ServerFlags server;
};

struct AttestationsArgs {
  std::string service, digest;
  ServerFlags server;
};

struct VerifyArgs {
  std::string digest, key;
  ServerFlags server;
};

// One statement, for people: "soak in staging: live 30m, healthy, by lockstep".
std::string Describe(const attest::Attestation& a) {
  std::string out = a.kind == "promotion" ? "promoted " + a.from + " → " + a.environment
                                          : "soaked in " + a.environment;
  return out + ": " + a.service + " (release " + a.release.substr(0, 12) + "), live " +
         std::to_string(a.soak_seconds) + "s, " + a.health + ", by " + a.by + " at " +
         FormatRfc3339(a.at);
}

}  // namespace

void AddPromoteCommands(CLI::App& app, Globals& g, ExitCode* exit) {
  DefineCommand<PromoteArgs>(
      app, exit, "promote",
      "pin --to to the artifact SERVICE runs, live and healthy, in --from (its promote_from) "
      "once it ran there for --to's soak",
      [&g](CLI::App& sub, PromoteArgs& a) {
        sub.add_option("SERVICE", a.services, "the services (or --all)");
        sub.add_option("--from", a.from, "where it runs now")->required();
        sub.add_option("--to", a.to, "the environment that promotes from --from")->required();
        sub.add_flag("--all", a.all, "every service whose artifact in --from differs from --to's");
        sub.add_option("--reason", a.reason, "why, for the commit and the audit log");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](PromoteArgs& a) -> Status {
        for (const std::string* name : {&a.from, &a.to}) {
          if (!IsResourceName(*name)) {
            return InvalidArgument("environment '" + name->substr(0, 64) + "' is not a name");
          }
        }
        if (a.all == !a.services.empty()) {
          return InvalidArgument("name the SERVICE(s) to promote, or give --all (not both)");
        }
        bj::object body{{"from", a.from}, {"all", a.all}};
        bj::array services;
        for (const std::string& s : a.services) {
          if (!IsResourceName(s))
            return InvalidArgument("service '" + s.substr(0, 64) + "' is not a name");
          services.emplace_back(s);
        }
        body["services"] = std::move(services);
        if (!a.reason.empty()) body["reason"] = a.reason;
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(bj::value answer,
                            client.Post("environments/" + a.to + "/promotions", body));
        if (g.output == "json") {
          std::cout << bj::serialize(answer) << "\n";
          return Status::Ok();
        }
        const bj::array& promoted = answer.as_object().at("promoted").as_array();
        if (promoted.empty()) {
          std::cout << a.to << " already pins what " << a.from << " runs: nothing to promote\n";
          return Status::Ok();
        }
        for (const bj::value& p : promoted) {
          std::cout << "promoted " << Str(p, "service") << " " << Str(p, "version") << " ("
                    << Str(p, "digest").substr(0, 19) << ") from " << a.from << " to " << a.to
                    << ", live " << Number(p, "live_seconds") << "s there; attestation "
                    << Str(p, "attestation_id") << "\n";
        }
        std::cout << "commit " << Str(answer, "commit").substr(0, 12)
                  << " pins it; next: lockstep plan " << a.to << "\n";
        return Status::Ok();
      });

  DefineCommand<AttestationsArgs>(
      app, exit, "attestations", "what the server attested of SERVICE (or of one DIGEST)",
      [&g](CLI::App& sub, AttestationsArgs& a) {
        sub.add_option("SERVICE", a.service, "the service")->required();
        sub.add_option("DIGEST", a.digest, "only this image digest");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](AttestationsArgs& a) -> Status {
        if (!IsResourceName(a.service))
          return InvalidArgument("service '" + a.service.substr(0, 64) + "' is not a name");
        if (!a.digest.empty()) LS_RETURN_IF_ERROR(Digest::Parse(a.digest).status());
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(bj::value answer,
                            client.Get("attestations?service=" + a.service +
                                       (a.digest.empty() ? "" : "&digest=" + a.digest)));
        if (g.output == "json") {
          std::cout << bj::serialize(answer) << "\n";
          return Status::Ok();
        }
        for (const bj::value& e : answer.as_object().at("attestations").as_array()) {
          std::cout << Str(e, "id") << "  " << Str(e, "kind") << "  "
                    << (Str(e, "from").empty() ? "" : Str(e, "from") + " → ")
                    << Str(e, "environment") << "  " << Str(e, "digest").substr(0, 19) << "  live "
                    << Number(e, "soak_seconds") << "s  " << FormatRfc3339(Number(e, "at")) << "\n";
        }
        return Status::Ok();
      });

  DefineCommand<VerifyArgs>(
      app, exit, "verify",
      "check the signature of every attestation of DIGEST with the server's public key",
      [&g](CLI::App& sub, VerifyArgs& a) {
        sub.add_option("DIGEST", a.digest, "the image digest")->required();
        sub.add_option("--key", a.key,
                       "the public key (PEM) to trust; default: the server's, as it publishes it "
                       "at /api/v1/attestations/key");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g, exit](VerifyArgs& a) -> Status {
        LS_RETURN_IF_ERROR(Digest::Parse(a.digest).status());
        EngineClient client(a.server);
        std::string key;
        if (!a.key.empty()) {
          LS_ASSIGN_OR_RETURN(key, os::ReadFile(a.key, 64 << 10));
        } else {
          LS_ASSIGN_OR_RETURN(client::HttpResponse r,
                              client.Send("GET", "attestations/key", "", ""));
          key = r.body;
        }
        LS_ASSIGN_OR_RETURN(std::string key_id, attest::KeyIdOf(key));
        LS_ASSIGN_OR_RETURN(bj::value answer, client.Get("attestations?digest=" + a.digest));
        bj::array results;
        int valid = 0, invalid = 0;
        for (const bj::value& e : answer.as_object().at("attestations").as_array()) {
          attest::Signed s{Str(e, "payload"), Str(e, "signature"), Str(e, "key_id")};
          Result<attest::Attestation> checked = attest::Verify(s, key);
          // The statement must be about this digest, whatever the listing says.
          if (checked.ok() && checked->digest != a.digest) {
            checked = PermissionDenied("the signed statement is about " + checked->digest);
          }
          (checked.ok() ? valid : invalid)++;
          if (g.output == "json") {
            results.push_back(bj::object{
                {"id", Number(e, "id")},
                {"valid", checked.ok()},
                {"why", checked.ok() ? "" : checked.status().message()},
                {"statement", checked.ok() ? bj::parse(s.payload) : bj::value(nullptr)}});
          } else {
            std::cout << (checked.ok() ? "valid    " : "INVALID  ") << Str(e, "id") << "  "
                      << (checked.ok() ? Describe(*checked) : checked.status().message()) << "\n";
          }
        }
        if (g.output == "json") {
          std::cout << bj::serialize(bj::object{{"digest", a.digest},
                                                {"key_id", key_id},
                                                {"valid", valid},
                                                {"invalid", invalid},
                                                {"attestations", std::move(results)}})
                    << "\n";
        } else {
          std::cout << valid << " valid, " << invalid << " invalid, with key "
                    << key_id.substr(0, 16) << "\n";
        }
        if (invalid > 0 || valid == 0) *exit = ExitCode::kError;
        return Status::Ok();
      });
}

}  // namespace lockstep::cli
