// memhog MiB: allocates and touches MiB mebibytes, one at a time, then says so.
// Static, so it runs in an image that holds nothing else.
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  long mib = argc > 1 ? std::atol(argv[1]) : 0;
  for (long i = 0; i < mib; ++i) {
    void* block = std::malloc(1 << 20);
    if (block == nullptr) return 2;
    std::memset(block, 1, 1 << 20);
  }
  std::printf("allocated %ld MiB\n", mib);
  return 0;
}
