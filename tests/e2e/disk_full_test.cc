// A registry whose disk fills up says so, keeps nothing half-written, and goes on
// serving: on a real filesystem of a few MiB (tmpfs, mounted by the test as root).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "tests/support/images.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

class DiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a small filesystem needs root";
    disk_ = scratch_.path() / "disk";
    fs::create_directories(disk_);
    if (::mount("tmpfs", disk_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0700") != 0) {
      if (errno == EPERM)
        GTEST_SKIP() << "no permission to mount (a container without CAP_SYS_ADMIN)";
      FAIL() << "mount tmpfs: " << std::strerror(errno);
    }
    mounted_ = true;
    server_ = std::make_unique<LockstepServer>(ServerOptions{.data_dir = disk_ / "data"});
    client_ = std::make_unique<RegistryClient>(*server_);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    if (mounted_) ::umount2(disk_.c_str(), MNT_DETACH);
  }

  // Writes a file until the filesystem refuses another byte.
  void FillTheDisk() {
    std::ofstream filler(disk_ / "filler", std::ios::binary);
    std::string block(4096, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) &&
           filler.flush()) {
    }
  }

  ScratchDir scratch_;
  fs::path disk_;
  bool mounted_ = false;
  std::unique_ptr<LockstepServer> server_;
  std::unique_ptr<RegistryClient> client_;
};

TEST_F(DiskFull, ABlobTooLargeForTheDiskIsRefusedAndItsBytesAreFreed) {
  std::string big(6 << 20, 'x');
  std::string location = client_->StartUpload("app");
  ASSERT_FALSE(location.empty());
  HttpResponse r = client_->Do("PUT", location + "?digest=" + Sha(big), big);
  EXPECT_EQ(r.status, 507) << r.Describe();
  EXPECT_NE(r.body.find("out of disk space"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(disk_.string()), std::string::npos) << "no server paths: " << r.body;
  EXPECT_NE(server_->Logs().find("out of disk space"), std::string::npos) << server_->Logs();

  // Still serving, and the refused bytes gave their space back: 3 MiB fits in 4.
  EXPECT_EQ(client_->Do("GET", "/v2/").status, 200);
  std::string fits(3 << 20, 'y');
  EXPECT_EQ(client_->PushBlob("app", fits), Sha(fits));
  EXPECT_EQ(client_->Do("HEAD", "/v2/app/blobs/" + Sha(fits)).status, 200);
  EXPECT_EQ(client_->Do("HEAD", "/v2/app/blobs/" + Sha(big)).status, 404);
}

TEST_F(DiskFull, AManifestPushOnAFullDiskStoresNothingAndMovesNoTag) {
  std::string manifest = client_->PushImageParts("app", "1");
  FillTheDisk();
  HttpResponse r = client_->PutManifest("app", Sha(manifest) + "?tag=a&tag=b", manifest);
  EXPECT_EQ(r.status, 507) << r.Describe();
  EXPECT_EQ(client_->Do("GET", "/v2/app/manifests/a").status, 404);
  EXPECT_EQ(client_->Do("GET", "/v2/app/manifests/b").status, 404);
  EXPECT_EQ(client_->Do("GET", "/v2/app/manifests/" + Sha(manifest)).status, 404);

  fs::remove(disk_ / "filler");
  HttpResponse again = client_->PutManifest("app", Sha(manifest) + "?tag=a&tag=b", manifest);
  EXPECT_EQ(again.status, 201) << again.Describe();
  EXPECT_EQ(client_->Do("GET", "/v2/app/manifests/b").Header("docker-content-digest"),
            Sha(manifest));
}

}  // namespace
}  // namespace lockstep::testing
