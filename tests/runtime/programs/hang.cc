// crosslink-test-hang [term-exits]: prints "hanging" and then waits for ever, like a rank stuck in
// a collective. By default it ignores SIGTERM, so launcher_test can check that --timeout still
// ends it (with SIGKILL). With "term-exits" it prints "got SIGTERM" and exits 7 on SIGTERM, so
// launcher_test can check that crosslink-run forwards the signal.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

void ExitOnTerm(int) {
  static const char kMessage[] = "got SIGTERM\n";
  (void)!write(STDOUT_FILENO, kMessage, sizeof(kMessage) - 1);
  _exit(7);
}

}  // namespace

int main(int argc, char** argv) {
  const bool term_exits = argc > 1 && std::strcmp(argv[1], "term-exits") == 0;
  signal(SIGTERM, term_exits ? ExitOnTerm : SIG_IGN);
  std::printf("hanging\n");
  std::fflush(stdout);
  while (true) pause();
}
