// Discovery and management: tag pagination with a Link header, the referrers API with
// artifactType filtering, the catalog, and deletes where policy allows them.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace json = boost::json;

std::vector<std::string> Tags(const HttpResponse& r) {
  std::vector<std::string> out;
  json::value doc = json::parse(r.body);
  for (const auto& t : doc.at("tags").as_array()) out.emplace_back(t.as_string());
  return out;
}

class Discovery : public ::testing::Test {
 protected:
  LockstepServer server_{ServerOptions{
      .dev = true,
      .config_toml = "[[registry.mutable_tags]]\nrepos = \"app\"\ntags = \"latest\"\n"}};
  RegistryClient client_{server_};
};

TEST_F(Discovery, TagPaginationFollowsLinkHeaders) {
  std::string m = client_.PushImageParts("app", "1");
  for (const char* t : {"1.0.2", "1.0.0", "2.0.0", "1.0.1", "latest"}) {
    ASSERT_EQ(client_.PutManifest("app", t, m).status, 201);
  }
  HttpResponse all = client_.Do("GET", "/v2/app/tags/list");
  EXPECT_EQ(Tags(all), (std::vector<std::string>{"1.0.0", "1.0.1", "1.0.2", "2.0.0", "latest"}));
  EXPECT_EQ(all.Header("link"), "");

  std::vector<std::string> walked;
  std::string next = "/v2/app/tags/list?n=2";
  int pages = 0;
  while (!next.empty() && pages++ < 10) {
    HttpResponse page = client_.Do("GET", next);
    ASSERT_EQ(page.status, 200) << page.Describe();
    for (auto& t : Tags(page)) walked.push_back(t);
    std::string link = page.Header("link");
    next = link.empty() ? "" : link.substr(1, link.find('>') - 1);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(walked, Tags(all));
  EXPECT_EQ(Tags(client_.Do("GET", "/v2/app/tags/list?n=0")).size(), 0u);
  EXPECT_EQ(client_.Do("GET", "/v2/app/tags/list?n=-1").status, 400);
  EXPECT_EQ(client_.Do("GET", "/v2/nothing/tags/list").status, 404);
}

TEST_F(Discovery, ReferrersWithArtifactTypeFilter) {
  std::string subject = client_.PushImageParts("app", "s");
  ASSERT_EQ(client_.PutManifest("app", "1", subject).status, 201);
  std::string subject_field =
      R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
      Sha(subject) + R"(","size":)" + std::to_string(subject.size()) + "}";
  std::string sig = client_.PushImageParts(
      "app", "sig", R"(,"artifactType":"application/x-sig")" + subject_field);
  std::string sbom = client_.PushImageParts(
      "app", "sbom", R"(,"artifactType":"application/x-sbom")" + subject_field);
  ASSERT_EQ(client_.PutManifest("app", Sha(sig), sig).status, 201);
  ASSERT_EQ(client_.PutManifest("app", Sha(sbom), sbom).status, 201);

  HttpResponse all = client_.Do("GET", "/v2/app/referrers/" + Sha(subject));
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.Header("content-type"), "application/vnd.oci.image.index.v1+json");
  json::value index = json::parse(all.body);
  EXPECT_EQ(index.at("manifests").as_array().size(), 2u);

  HttpResponse sigs =
      client_.Do("GET", "/v2/app/referrers/" + Sha(subject) + "?artifactType=application/x-sig");
  EXPECT_EQ(sigs.Header("oci-filters-applied"), "artifactType");
  json::array filtered = json::parse(sigs.body).at("manifests").as_array();
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered[0].at("digest").as_string(), Sha(sig));
  EXPECT_EQ(filtered[0].at("artifactType").as_string(), "application/x-sig");

  EXPECT_EQ(json::parse(client_.Do("GET", "/v2/app/referrers/" + Sha("none")).body)
                .at("manifests")
                .as_array()
                .size(),
            0u);
  EXPECT_EQ(client_.Do("GET", "/v2/app/referrers/sha256:bad").status, 400);
}

TEST_F(Discovery, DeletesWherePolicyAllows) {
  // An untagged manifest can be deleted by digest.
  std::string loose = client_.PushImageParts("app", "loose");
  ASSERT_EQ(client_.PutManifest("app", Sha(loose), loose).status, 201);
  EXPECT_EQ(client_.Do("DELETE", "/v2/app/manifests/" + Sha(loose)).status, 202);
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/" + Sha(loose)).status, 404);

  // A mutable tag can be deleted; the manifest stays.
  std::string m = client_.PushImageParts("app", "m");
  ASSERT_EQ(client_.PutManifest("app", "latest", m).status, 201);
  EXPECT_EQ(client_.Do("DELETE", "/v2/app/manifests/latest").status, 202);
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/latest").status, 404);
  EXPECT_EQ(client_.Do("GET", "/v2/app/manifests/" + Sha(m)).status, 200);

  // A blob still used by a manifest is kept; an unused one is unlinked.
  HttpResponse used = client_.Do("DELETE", "/v2/app/blobs/" + Sha("layer-m"));
  EXPECT_EQ(used.status, 405) << used.Describe();
  EXPECT_NE(used.body.find("UNSUPPORTED"), std::string::npos) << used.Describe();
  std::string unused = client_.PushBlob("app", "unused");
  EXPECT_EQ(client_.Do("DELETE", "/v2/app/blobs/" + unused).status, 202);
  EXPECT_EQ(client_.Do("HEAD", "/v2/app/blobs/" + unused).status, 404);

  // An upload can be cancelled.
  std::string location = client_.StartUpload("app");
  EXPECT_EQ(client_.Do("DELETE", location).status, 204);
  EXPECT_EQ(client_.Do("GET", location).status, 404);
}

TEST_F(Discovery, CatalogListsRepositories) {
  client_.PushBlob("a/one", "1");
  client_.PushBlob("b/two", "2");
  HttpResponse r = client_.Do("GET", "/v2/_catalog");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::serialize(json::parse(r.body)), R"({"repositories":["a/one","b/two"]})");
}

}  // namespace
}  // namespace lockstep::testing
