#include "client-agent/cli.h"

int main(int argc, char** argv) { return mdu::agent::RunCli(argc, argv); }
