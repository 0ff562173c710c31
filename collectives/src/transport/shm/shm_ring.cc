#include "shm_ring.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <string_view>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::collectives::shm_internal {
namespace {

constexpr size_t kControlOffset = 256;
constexpr size_t kDataOffset = 4096;
// A waiter checks its condition this many times (with a pause instruction, ~40 cycles each)
// before it sleeps: a few microseconds, enough to catch a peer that is mid-piece without taking a
// core from the other ranks of the host for long.
constexpr int kSpinChecks = 128;
// Sleeps are bounded so that `stop` is polled even if a wake-up were missed.
constexpr long kMaxSleepNanos = 100'000'000;

template <typename T>
std::atomic_ref<T> A(T& value) {
  return std::atomic_ref<T>(value);
}

void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

void FutexWait(uint32_t* word, uint32_t expected) {
  timespec ts{0, kMaxSleepNanos};
  // Not FUTEX_PRIVATE_FLAG: the word is shared between processes.
  ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWakeAll(uint32_t* word) {
  ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// Waits until ready() or stop(); `seq` is bumped by whoever makes ready() true, `waiters` counts
// sleepers so that the bumper only makes a syscall when someone sleeps.
template <typename Ready>
bool WaitOn(uint32_t& seq, uint32_t& waiters, Ready ready, const std::function<bool()>& stop) {
  for (int i = 0; i < kSpinChecks; ++i) {
    if (ready()) return true;
    CpuRelax();
  }
  for (;;) {
    A(waiters).fetch_add(1);
    const uint32_t seen = A(seq).load();
    if (ready()) {
      A(waiters).fetch_sub(1);
      return true;
    }
    if (stop()) {
      A(waiters).fetch_sub(1);
      return false;
    }
    FutexWait(&seq, seen);
    A(waiters).fetch_sub(1);
  }
}

void Bump(uint32_t& seq, uint32_t& waiters) {
  A(seq).fetch_add(1);
  if (A(waiters).load() > 0) FutexWakeAll(&seq);
}

}  // namespace

uint64_t Ring::Writable() const {
  return capacity_ - (A(control_->head).load(std::memory_order_relaxed) - A(control_->tail).load());
}

uint64_t Ring::Readable() const {
  return A(control_->head).load() - A(control_->tail).load(std::memory_order_relaxed);
}

void Ring::Write(const std::byte* src, size_t n) {
  const uint64_t head = A(control_->head).load(std::memory_order_relaxed);
  const uint64_t at = head % capacity_;
  const size_t first = std::min<uint64_t>(n, capacity_ - at);
  std::memcpy(data_ + at, src, first);
  if (first < n) std::memcpy(data_, src + first, n - first);
  A(control_->head).store(head + n);
  Bump(control_->data_seq, control_->data_waiters);
}

void Ring::Read(std::byte* dst, size_t n) {
  const uint64_t tail = A(control_->tail).load(std::memory_order_relaxed);
  const uint64_t at = tail % capacity_;
  const size_t first = std::min<uint64_t>(n, capacity_ - at);
  std::memcpy(dst, data_ + at, first);
  if (first < n) std::memcpy(dst + first, data_, n - first);
  A(control_->tail).store(tail + n);
  Bump(control_->space_seq, control_->space_waiters);
}

bool Ring::WaitReadable(uint64_t n, const std::function<bool()>& stop) const {
  return WaitOn(
      control_->data_seq, control_->data_waiters, [&] { return Readable() >= n; }, stop);
}

bool Ring::WaitWritable(uint64_t n, const std::function<bool()>& stop) const {
  return WaitOn(
      control_->space_seq, control_->space_waiters, [&] { return Writable() >= n; }, stop);
}

void Ring::WakeAll() const {
  A(control_->data_seq).fetch_add(1);
  A(control_->space_seq).fetch_add(1);
  FutexWakeAll(&control_->data_seq);
  FutexWakeAll(&control_->space_seq);
  FutexWakeAll(&control_->pulled_seq);
}

void Ring::SignalPulled() { Bump(control_->pulled_seq, control_->pulled_waiters); }

uint32_t Ring::pulled() const { return A(control_->pulled_seq).load(); }

bool Ring::WaitPulled(uint32_t target, const std::function<bool()>& stop) const {
  return WaitOn(
      control_->pulled_seq, control_->pulled_waiters, [&] { return pulled() == target; }, stop);
}

Segment::Segment(std::string name, void* base, size_t bytes, uint64_t ring_bytes)
    : name_(std::move(name)), base_(base), bytes_(bytes) {
  auto* bytes_base = static_cast<std::byte*>(base_);
  auto* controls = reinterpret_cast<RingControl*>(bytes_base + kControlOffset);
  for (int i = 0; i < 2; ++i) {
    rings_[i] =
        std::make_unique<Ring>(&controls[i], bytes_base + kDataOffset + i * ring_bytes, ring_bytes);
  }
}

Segment::~Segment() { ::munmap(base_, bytes_); }

std::string SegmentName(uint64_t random_hi, uint64_t random_lo) {
  return absl::StrFormat("/crosslink-%d-%016x%016x", ::getpid(), random_hi, random_lo);
}

namespace {
constexpr std::string_view kNamePrefix = "/crosslink-";
constexpr size_t kRandomHexDigits = 32;

// The creator pid of a well-formed name, or -1.
long CreatorPid(std::string_view name) {
  if (name.substr(0, kNamePrefix.size()) != kNamePrefix) return -1;
  name.remove_prefix(kNamePrefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 10) return -1;
  long pid = 0;
  for (char c : name.substr(0, dash)) {
    if (c < '0' || c > '9') return -1;
    pid = pid * 10 + (c - '0');
  }
  const std::string_view random = name.substr(dash + 1);
  if (random.size() != kRandomHexDigits) return -1;
  for (char c : random) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
  }
  return pid > 0 && pid <= INT_MAX ? pid : -1;
}
}  // namespace

bool IsSegmentName(const std::string& name) { return CreatorPid(name) > 0; }

int RemoveSegmentsOfDeadProcesses() {
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return 0;
  int removed = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = absl::StrCat("/", entry->d_name);
    const long pid = CreatorPid(name);
    // ESRCH: no such process. EPERM means it exists (another user's): left alone, as is ours.
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH &&
        ::shm_unlink(name.c_str()) == 0) {
      ++removed;
    }
  }
  ::closedir(dir);
  return removed;
}

handshake::Mac Segment::Tag(const handshake::SessionKey& session_key, const std::string& name,
                            int connector_rank, int acceptor_rank, uint64_t ring_bytes) {
  const std::string data = absl::StrFormat("crosslink shm segment\n%s\n%d\n%d\n%d", name,
                                           connector_rank, acceptor_rank, ring_bytes);
  return handshake::SessionMac(
      session_key,
      absl::MakeConstSpan(reinterpret_cast<const std::byte*>(data.data()), data.size()));
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Create(const std::string& name,
                                                         const handshake::SessionKey& session_key,
                                                         int connector_rank, int acceptor_rank,
                                                         uint64_t ring_bytes) {
  const size_t bytes = kDataOffset + 2 * ring_bytes;
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrFormat("shared memory %s: create: %s", name, std::strerror(errno)));
  }
  void* base = MAP_FAILED;
  int err = 0;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) == 0) {
    // MAP_POPULATE: the pages are allocated here, not on the first message's critical path.
    base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  }
  if (base == MAP_FAILED) err = errno;
  ::close(fd);
  if (base == MAP_FAILED) {
    ::shm_unlink(name.c_str());
    return absl::UnavailableError(
        absl::StrFormat("shared memory %s: %d bytes: %s", name, bytes, std::strerror(err)));
  }
  auto* header = static_cast<SegmentHeader*>(base);
  const handshake::Mac tag = Tag(session_key, name, connector_rank, acceptor_rank, ring_bytes);
  std::memcpy(header->tag, tag.data(), tag.size());
  header->connector_rank = static_cast<uint32_t>(connector_rank);
  header->acceptor_rank = static_cast<uint32_t>(acceptor_rank);
  header->ring_bytes = ring_bytes;
  A(header->magic).store(kSegmentMagic);  // last: the header is complete once the magic shows
  return std::unique_ptr<Segment>(new Segment(name, base, bytes, ring_bytes));
}

absl::StatusOr<std::unique_ptr<Segment>> Segment::Open(const std::string& name,
                                                       const handshake::SessionKey& session_key,
                                                       int connector_rank, int acceptor_rank) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // ENOENT: the peer is on another host (or in another /dev/shm).
    return absl::UnavailableError(
        absl::StrFormat("shared memory %s: open: %s", name, std::strerror(errno)));
  }
  struct stat st {};
  void* base = MAP_FAILED;
  int err = EINVAL;
  if (::fstat(fd, &st) == 0 && static_cast<size_t>(st.st_size) > kDataOffset) {
    base = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) err = errno;
  }
  ::close(fd);
  if (base == MAP_FAILED) {
    return absl::UnavailableError(
        absl::StrFormat("shared memory %s: map: %s", name, std::strerror(err)));
  }
  auto* header = static_cast<SegmentHeader*>(base);
  const size_t bytes = static_cast<size_t>(st.st_size);
  // Read once: the peer can rewrite the header at any time, so what is checked is what is used.
  const uint64_t ring_bytes = A(header->ring_bytes).load();
  handshake::Mac tag;
  std::memcpy(tag.data(), header->tag, tag.size());
  const bool sized = ring_bytes > 0 && ring_bytes <= (bytes - kDataOffset) / 2 &&
                     kDataOffset + 2 * ring_bytes == bytes;
  if (A(header->magic).load() != kSegmentMagic ||
      A(header->connector_rank).load() != static_cast<uint32_t>(connector_rank) ||
      A(header->acceptor_rank).load() != static_cast<uint32_t>(acceptor_rank) || !sized ||
      !handshake::SessionMacEqual(
          tag, Tag(session_key, name, connector_rank, acceptor_rank, ring_bytes))) {
    ::munmap(base, bytes);
    return absl::InvalidArgumentError(absl::StrFormat(
        "shared memory %s: header does not match this connection (rank %d -> rank %d)", name,
        connector_rank, acceptor_rank));
  }
  return std::unique_ptr<Segment>(new Segment(name, base, bytes, ring_bytes));
}

void Segment::Unlink() {
  if (unlinked_) return;
  unlinked_ = true;
  ::shm_unlink(name_.c_str());  // ENOENT: the other side unlinked it already
}

void Segment::SetClosed(int side) {
  A(static_cast<SegmentHeader*>(base_)->closed[side]).store(1);
  rings_[0]->WakeAll();
  rings_[1]->WakeAll();
}

bool Segment::IsClosed(int side) const {
  return A(static_cast<SegmentHeader*>(base_)->closed[side]).load() != 0;
}

namespace {
// What a peer reads through process_vm_readv to learn whether it may read this process.
const uint64_t kProbeWord = kSegmentMagic;
}  // namespace

void Segment::PublishProcess(int side) {
  auto* header = static_cast<SegmentHeader*>(base_);
  A(header->pid[side]).store(static_cast<uint64_t>(::getpid()));
  A(header->probe_address[side]).store(reinterpret_cast<uint64_t>(&kProbeWord));
}

bool Segment::ProbePeerMemory(int side, pid_t peer_pid) {
  auto* header = static_cast<SegmentHeader*>(base_);
  const uint64_t address = A(header->probe_address[1 - side]).load();
  uint64_t word = 0;
  bool ok = false;
  if (address != 0) {
    iovec local{&word, sizeof(word)};
    iovec remote{reinterpret_cast<void*>(address), sizeof(word)};
    // EPERM where ptrace rules (Yama, containers without CAP_SYS_PTRACE) forbid it.
    ok = peer_pid > 0 &&
         ::process_vm_readv(peer_pid, &local, 1, &remote, 1, 0) ==
             static_cast<ssize_t>(sizeof(word)) &&
         word == kProbeWord;
  }
  A(header->can_read_peer[side]).store(ok ? 1u : 0u);
  return ok;
}

bool Segment::PeerCanRead(int side) const {
  return A(static_cast<SegmentHeader*>(base_)->can_read_peer[1 - side]).load() != 0;
}

pid_t Segment::peer_pid(int side) const {
  const uint64_t pid = A(static_cast<SegmentHeader*>(base_)->pid[1 - side]).load();
  return pid > 0 && pid <= static_cast<uint64_t>(INT_MAX) ? static_cast<pid_t>(pid) : -1;
}

}  // namespace crosslink::collectives::shm_internal
