// cgwarden: wiring only. Each verb lives in agent/Commands*.cpp.
#include "agent/Commands.h"

int main(int argc, char** argv) { return cgwarden::agent::runCommandLine(argc, argv); }
