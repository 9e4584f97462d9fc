#include "repo-server/server.h"

int main(int argc, char** argv) { return mdu::server::RunRepoServer(argc, argv); }
