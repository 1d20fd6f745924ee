// Attestations against FakeTarget and a SQLite store: the soaks the server attests, and an
// apply to an environment that promotes from another needing one for each digest it brings
// (or an admin's override, recorded).
#include "engine/attestations.h"

#include <gtest/gtest.h>

#include "engine/apply_fixture.h"

namespace lockstep::engine {
namespace {

using fixture::ApplyTest;
using fixture::Desired;
using fixture::Digest;
using fixture::kCommit;

class AttestationsTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    signer_ = attest::Signer::LoadOrCreate(dir_.path() / "secrets" / "attestation.key").value();
    gated_ = std::make_unique<Engine>(
        PlanSources{nullptr, store_.get(), &target_, "127.0.0.1:5000"}, clock_,
        ApplyOptions{.health_timeout = std::chrono::seconds(5)}, signer_.get());
  }

  // prod, which promotes from staging after a soak of 10 minutes, planned to run `desired`.
  std::string SaveGated(const std::map<std::string, deploy::DeployedService>& desired) {
    Plan plan = PlanDesired(*store_, target_, "prod", kCommit, desired).value();
    plan.promote_from = "staging";
    plan.soak_seconds = 600;
    auto tx = std::move(store_->Begin()).value();
    std::string id = std::move(tx->PutPlan(ToPlanRecord(plan, "alice"))).value();
    EXPECT_TRUE(tx->Commit().ok());
    return id;
  }

  // A soak of `service` at `digest` in staging of `seconds`, signed by `signer`.
  void Soaked(const std::string& service, const std::string& digest, int64_t seconds,
              const attest::Signer& signer) {
    Attestor attestor(*store_, target_, &signer, clock_);
    ASSERT_TRUE(attestor
                    .Record({.kind = "soak",
                             .service = service,
                             .repository = "shop/" + service,
                             .digest = digest,
                             .release = "r",
                             .environment = "staging",
                             .soak_seconds = seconds,
                             .health = "healthy",
                             .by = "lockstep"})
                    .ok());
  }

  std::unique_ptr<attest::Signer> signer_;
  std::unique_ptr<Engine> gated_;
};

TEST_F(AttestationsTest, AnApplyNeedsASoakUpstreamLongEnoughForEveryDigestItBrings) {
  const std::string plan = SaveGated(Desired('a', 'a', 0));
  Result<int64_t> none = gated_->StartApply(plan, {"alice", ""});
  ASSERT_EQ(none.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("web 1.a (sha256:aaaaaaaaaaaa) has no attestation from "
                                         "staging of a 10m soak"),
            std::string::npos)
      << none.status().message();
  EXPECT_NE(none.status().message().find("api 1.a"), std::string::npos);
  EXPECT_NE(none.status().message().find("--override-attestation"), std::string::npos);

  Soaked("web", Digest('a'), 599, *signer_);
  Soaked("api", Digest('a'), 600, *signer_);
  Result<int64_t> short_soak = gated_->StartApply(plan, {"alice", ""});
  ASSERT_FALSE(short_soak.ok());
  EXPECT_NE(short_soak.status().message().find("web 1.a"), std::string::npos)
      << "599 s is not 10 minutes: " << short_soak.status().message();
  EXPECT_EQ(short_soak.status().message().find("api 1.a"), std::string::npos)
      << "api's soak was long enough: " << short_soak.status().message();

  // Another key's statement, and one whose words were changed, vouch for nothing.
  os::testing::TempDir other;
  auto stranger = attest::Signer::LoadOrCreate(other.path() / "secrets" / "k").value();
  Soaked("web", Digest('a'), 3600, *stranger);
  {
    state::AttestationRecord forged = store_->ListAttestations("api", "", 1).value()[0];
    size_t at = forged.payload.find("\"api\"");
    forged.payload.replace(at, 5, "\"web\"");
    forged.service = "web";
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->AddAttestation(forged).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  EXPECT_FALSE(gated_->StartApply(plan, {"alice", ""}).ok());
  EXPECT_TRUE(Current().empty()) << "nothing applied";

  Soaked("web", Digest('a'), 601, *signer_);
  Result<int64_t> id = gated_->StartApply(plan, {"alice", ""});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  gated_->Wait(*id);
  EXPECT_EQ(Current()["web"].version, "1.a");
}

TEST_F(AttestationsTest, AnAdminOverrideGoesOutAndIsRecordedWithTheDeployment) {
  const std::string plan = SaveGated(Desired('a', 0, 0));
  Result<int64_t> id = gated_->StartApply(
      plan, {.actor = "root", .reason = "", .attestation_override = "hotfix, tested by hand"});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  gated_->Wait(*id);
  auto tx = std::move(store_->Begin()).value();
  state::DeploymentRecord d = tx->Deployment(*id).value();
  EXPECT_EQ(d.outcome, state::Outcome::kSucceeded) << d.reason;
  EXPECT_NE(d.attestation_override.find("hotfix, tested by hand (lacking: web 1.a"),
            std::string::npos)
      << d.attestation_override;
  tx.reset();
  bool audited = false;
  std::vector<state::AuditRecord> audit = store_->Audit(0, 20).value();
  for (const state::AuditRecord& a : audit) {
    audited = audited || (a.action == "override attestation" && a.actor == "root" &&
                          a.detail.find("hotfix") != std::string::npos);
  }
  EXPECT_TRUE(audited);
  // The same artifact again needs nothing: only a digest that moves does.
  const std::string again = SaveGated(Desired('a', 0, 0));
  EXPECT_TRUE(gated_->StartApply(again, {"alice", ""}).ok());
}

TEST_F(AttestationsTest, TheServerAttestsEachReleaseOnceItsSoakCompletedHealthy) {
  ASSERT_EQ(ApplyPlan(Save(Desired('a', 'b', 'c'))).outcome, state::Outcome::kSucceeded);
  // prod, then next, which promotes from it after a minute.
  deploy::DeployRepo repo;
  repo.environments = {{.name = "prod"}, {.name = "next", .promote_from = "prod"}};
  repo.environments[1].soak_seconds = 60;
  Attestor attestor(*store_, target_, signer_.get(), clock_);
  clock_.Advance(59);
  EXPECT_TRUE(attestor.AttestSoaks(repo).value().empty()) << "not a minute yet";
  target_.SetHealth(RoutedInstance("api"), runtime::HealthState::kUnhealthy);
  clock_.Advance(1);
  std::vector<std::string> attested = attestor.AttestSoaks(repo).value();
  ASSERT_EQ(attested.size(), 2u) << "web and nightly; api is unhealthy";
  EXPECT_TRUE(attestor.AttestSoaks(repo).value().empty()) << "once per release";
  target_.SetHealth(RoutedInstance("api"), runtime::HealthState::kHealthy);
  EXPECT_EQ(attestor.AttestSoaks(repo).value().size(), 1u) << "api, healthy again";

  std::vector<state::AttestationRecord> web = store_->ListAttestations("web", "", 10).value();
  ASSERT_EQ(web.size(), 1u);
  attest::Attestation said =
      attest::Verify({web[0].payload, web[0].signature, web[0].key_id}, signer_->public_key_pem())
          .value();
  EXPECT_EQ(said.kind, "soak");
  EXPECT_EQ(said.environment, "prod");
  EXPECT_EQ(said.digest, Digest('a'));
  EXPECT_EQ(said.soak_seconds, 60);
  EXPECT_EQ(said.by, "lockstep");
  EXPECT_EQ(said.repository, "shop/web");
  // An environment nothing promotes from soaks for nobody.
  repo.environments.pop_back();
  clock_.Advance(3600);
  ASSERT_EQ(ApplyPlan(Save(Desired('d', 'b', 'c'))).outcome, state::Outcome::kSucceeded);
  EXPECT_TRUE(attestor.AttestSoaks(repo).value().empty());
}

TEST(Span, ReadsAsPeopleWriteDurations) {
  EXPECT_EQ(Span(42), "42s");
  EXPECT_EQ(Span(252), "4m12s");
  EXPECT_EQ(Span(1800), "30m");
  EXPECT_EQ(Span(7500), "2h5m");
  EXPECT_EQ(Span(3600), "1h");
}

}  // namespace
}  // namespace lockstep::engine
