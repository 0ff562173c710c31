// A fuzz input split the way the targets need it: the bytes a parser reads from the front (what
// arrives on a socket, in a file) and the fuzzer's own choices from the back (when to post a
// receive, whether to repair a checksum), so that a real input used as a seed (a frame stream, a
// scenario file) keeps its meaning as the front bytes.
#ifndef CROSSLINK_TESTS_FUZZ_FUZZ_INPUT_H_
#define CROSSLINK_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace crosslink::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), front_(0), back_(size) {}

  size_t remaining() const { return back_ - front_; }
  // Up to `n` bytes from the front (fewer when the input ends).
  const uint8_t* TakeFront(size_t n, size_t* got) {
    *got = n < remaining() ? n : remaining();
    const uint8_t* p = data_ + front_;
    front_ += *got;
    return p;
  }
  // One choice byte from the back; 0 once the input is used up.
  uint8_t Choice() {
    if (back_ == front_) return 0;
    return data_[--back_];
  }
  // A choice in [0, bound] from two back bytes.
  size_t ChoiceUpTo(size_t bound) {
    const size_t v = (size_t{Choice()} << 8) | Choice();
    return bound == 0 ? 0 : v % (bound + 1);
  }

 private:
  const uint8_t* data_;
  size_t front_;
  size_t back_;
};

// Stops the fuzzer with a message: a broken property, which libFuzzer reports as a crash.
[[noreturn]] inline void PropertyFailed(const char* what) {
  fprintf(stderr, "fuzz property failed: %s\n", what);
  std::abort();
}

#define CROSSLINK_FUZZ_CHECK(cond)                         \
  do {                                                     \
    if (!(cond)) ::crosslink::fuzz::PropertyFailed(#cond); \
  } while (0)

}  // namespace crosslink::fuzz

#endif  // CROSSLINK_TESTS_FUZZ_FUZZ_INPUT_H_
