// lockstep: one program for the registry, the deploy engine and its command line.
#include "cli/cli.h"

int main(int argc, char** argv) { return lockstep::cli::Main(argc, argv); }
