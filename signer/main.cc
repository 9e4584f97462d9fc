// The `signer` program: all logic lives in mdu_signer (signer/cli/cli.h) so tests can call it.
#include "signer/cli/cli.h"

int main(int argc, char** argv) { return mdu::signer::RunCli(argc, argv); }
