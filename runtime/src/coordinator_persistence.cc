#include "coordinator_persistence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "coordinator_proto.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/coordinator.pb.h"

namespace crosslink::runtime {
namespace {

// Bumped when the snapshot's meaning changes; a file of another format is refused, not guessed at.
constexpr int32_t kSnapshotFormat = 1;

// Ties a file to its job's token without storing the token: a restart with another token (another
// job) must not inherit this job's membership. FNV-1a over a domain prefix; the token is 128
// random bits under crosslink-run, and the digest is a check, not a credential (the file is 0600).
std::string TokenDigest(const std::string& token) {
  uint64_t h = 1469598103934665603ull;
  for (char c : std::string("crosslink coordinator state file\n") + token) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return std::string(reinterpret_cast<const char*>(&h), sizeof(h));
}

std::string FileName(const CoordinatorOptions& options) { return options.state_file.string(); }

absl::Status WriteAllFd(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("coordinator state file ", path, ": write failed: ", strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateMembership(const Membership& m, int world_size, const std::string& what) {
  const auto bad = [&](auto&&... why) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", why...));
  };
  if (m.epoch < 0) return bad("negative membership epoch ", m.epoch);
  if (m.alive_ranks.size() + m.dead_ranks.size() != static_cast<size_t>(world_size)) {
    return bad(m.alive_ranks.size(), " alive and ", m.dead_ranks.size(),
               " dead ranks do not make a world of ", world_size);
  }
  std::set<int> seen;
  for (int r : m.alive_ranks) {
    if (r < 0 || r >= world_size || !seen.insert(r).second) {
      return bad("alive rank ", r, " is out of range or listed twice (world size ", world_size,
                 ")");
    }
  }
  for (const DeadRank& d : m.dead_ranks) {
    if (d.rank < 0 || d.rank >= world_size || !seen.insert(d.rank).second) {
      return bad("dead rank ", d.rank, " is out of range or listed twice (world size ", world_size,
                 ")");
    }
    if (d.epoch < 1 || d.epoch > m.epoch) {
      return bad("rank ", d.rank, " died at epoch ", d.epoch, ", outside 1..", m.epoch);
    }
    if (d.reason.size() > kMaxReasonBytes) {
      return bad("the reason of rank ", d.rank, "'s death is ", d.reason.size(), " bytes, over ",
                 kMaxReasonBytes);
    }
  }
  return absl::OkStatus();
}

absl::Status WriteSnapshotFile(const CoordinatorOptions& options,
                               const CoordinatorSnapshot& snapshot) {
  proto::CoordinatorSnapshot p;
  p.set_format(kSnapshotFormat);
  p.set_job_id(options.job_id);
  p.set_world_size(options.world_size);
  p.set_token_digest(TokenDigest(options.job_token));
  p.set_rendezvous_complete(snapshot.rendezvous_complete);
  ToProto(snapshot.membership, p.mutable_membership());
  for (const std::string& a : snapshot.data_addresses) p.add_data_addresses(a);
  for (const auto& [key, value] : snapshot.kv) {
    proto::CoordinatorSnapshot::Entry* e = p.add_kv();
    e->set_key(key);
    e->set_value(value);
  }
  for (const auto& [name, generation] : snapshot.barriers) {
    proto::CoordinatorSnapshot::Entry* e = p.add_barriers();
    e->set_key(name);
    e->set_value(absl::StrCat(generation));
  }
  std::string bytes;
  if (!p.SerializeToString(&bytes)) {
    return absl::InternalError(
        absl::StrCat("coordinator state file ", FileName(options), ": cannot serialize"));
  }
  const std::string path = FileName(options);
  // The temporary file sits next to the real one, so the rename stays within one file system and
  // is atomic; its pid suffix keeps two coordinators (a mistake) from writing the same one.
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("coordinator state file ", path, ": cannot create ",
                                            tmp, ": ", strerror(errno)));
  }
  absl::Status s = WriteAllFd(fd, bytes, path);
  if (s.ok() && fsync(fd) != 0) {
    s = absl::InternalError(
        absl::StrCat("coordinator state file ", path, ": fsync failed: ", strerror(errno)));
  }
  close(fd);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) {
    s = absl::InternalError(absl::StrCat("coordinator state file ", path, ": rename from ", tmp,
                                         " failed: ", strerror(errno)));
  }
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

namespace {

// A coordinator killed while it wrote a snapshot leaves its "<file>.tmp.<pid>" behind: a job whose
// coordinator restarts hundreds of times (crosslink-chaos) would pile them up. Removes those whose
// writer no longer runs; another live coordinator's (a mistake) is left alone.
void RemoveStaleTemporaries(const std::string& path) {
  const size_t slash = path.rfind('/');
  // "dir/" (or "" for a file in the working directory): names below are dir + entry.
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string prefix = absl::StrCat(path.substr(dir.size()), ".tmp.");
  DIR* d = opendir(dir.empty() ? "." : dir.c_str());
  if (d == nullptr) return;
  while (const dirent* entry = readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name.substr(0, prefix.size()) != prefix) continue;
    int pid = 0;
    if (!absl::SimpleAtoi(
            absl::string_view(name.substr(prefix.size()).data(), name.size() - prefix.size()),
            &pid) ||
        pid <= 0) {
      continue;
    }
    if (kill(pid, 0) != 0 && errno == ESRCH) unlink((dir + std::string(name)).c_str());
  }
  closedir(d);
}

}  // namespace

absl::StatusOr<std::optional<CoordinatorSnapshot>> ReadSnapshotFile(
    const CoordinatorOptions& options) {
  const std::string path = FileName(options);
  RemoveStaleTemporaries(path);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return absl::InternalError(
        absl::StrCat("coordinator state file ", path, ": cannot open: ", strerror(errno)));
  }
  // The largest file a valid snapshot makes: the key-value quota plus per-entry framing, the
  // addresses and the reasons, with room to spare. Checked before anything is allocated.
  const int64_t limit = options.max_kv_total_bytes + options.max_kv_keys * 16 +
                        int64_t{options.world_size} * (kMaxAddressBytes + kMaxReasonBytes + 64) +
                        (int64_t{1} << 20);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > limit) {
    close(fd);
    return absl::DataLossError(absl::StrCat("coordinator state file ", path,
                                            " is not a regular file of at most ", limit,
                                            " bytes; it is no state this coordinator wrote"));
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  const auto corrupt = [&](auto&&... why) {
    return absl::DataLossError(absl::StrCat("coordinator state file ", path, " is corrupt: ",
                                            why..., "; move it away to start the job afresh"));
  };
  if (got != bytes.size()) return corrupt("read ", got, " of ", bytes.size(), " bytes");
  proto::CoordinatorSnapshot p;
  if (!p.ParseFromString(bytes)) return corrupt("not a coordinator snapshot");
  if (p.format() != kSnapshotFormat) {
    return corrupt("format ", p.format(), ", this coordinator reads format ", kSnapshotFormat);
  }
  const auto other_job = [&](auto&&... why) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator state file ", path, " belongs to another job (", why...,
                     "); give each job its own state file, or remove it to start afresh"));
  };
  if (p.token_digest() != TokenDigest(options.job_token)) {
    return other_job("it was written with another job token");
  }
  if (p.job_id() != options.job_id) {
    return other_job("job id ", p.job_id().substr(0, 64), ", this one is ", options.job_id);
  }
  if (p.world_size() != options.world_size) {
    return other_job(p.world_size(), " ranks, this job has ", options.world_size);
  }
  CoordinatorSnapshot snapshot;
  snapshot.rendezvous_complete = p.rendezvous_complete();
  snapshot.membership = FromProto(p.membership());
  RETURN_IF_ERROR(
      ValidateMembership(snapshot.membership, options.world_size,
                         absl::StrCat("coordinator state file ", path, " holds a bad membership")));
  if (snapshot.rendezvous_complete != (snapshot.membership.epoch > 0)) {
    return corrupt("rendezvous ", snapshot.rendezvous_complete ? "complete" : "incomplete",
                   " at epoch ", snapshot.membership.epoch);
  }
  if (p.data_addresses_size() != options.world_size) {
    return corrupt(p.data_addresses_size(), " data addresses for ", options.world_size, " ranks");
  }
  for (int r = 0; r < p.data_addresses_size(); ++r) {
    const std::string& a = p.data_addresses(r);
    if (a.size() > kMaxAddressBytes) return corrupt("rank ", r, "'s data address is too long");
    if (a.empty() && snapshot.rendezvous_complete) {
      return corrupt("rendezvous complete but rank ", r, " has no data address");
    }
    snapshot.data_addresses.push_back(a);
  }
  if (p.kv_size() > options.max_kv_keys) {
    return corrupt(p.kv_size(), " keys, over the quota of ", options.max_kv_keys);
  }
  int64_t total = 0;
  std::set<std::string> keys;
  for (const proto::CoordinatorSnapshot::Entry& e : p.kv()) {
    if (static_cast<int64_t>(e.key().size()) > options.max_kv_key_bytes ||
        static_cast<int64_t>(e.value().size()) > options.max_kv_value_bytes) {
      return corrupt("an entry over the key or value quota");
    }
    if (!keys.insert(e.key()).second) return corrupt("key '", e.key(), "' twice");
    total += static_cast<int64_t>(e.key().size() + e.value().size());
    snapshot.kv.emplace_back(e.key(), e.value());
  }
  if (total > options.max_kv_total_bytes) {
    return corrupt(total, " bytes of keys and values, over the quota of ",
                   options.max_kv_total_bytes);
  }
  // Barrier names are bounded as keys are; one entry per name.
  if (p.barriers_size() > options.max_kv_keys) {
    return corrupt(p.barriers_size(), " barriers, over the key quota of ", options.max_kv_keys);
  }
  std::set<std::string> barrier_names;
  for (const proto::CoordinatorSnapshot::Entry& e : p.barriers()) {
    int64_t generation = 0;
    if (static_cast<int64_t>(e.key().size()) > options.max_kv_key_bytes ||
        !absl::SimpleAtoi(e.value(), &generation) || generation < 0) {
      return corrupt("a barrier entry with a bad name or generation");
    }
    if (!barrier_names.insert(e.key()).second) return corrupt("barrier '", e.key(), "' twice");
    snapshot.barriers.emplace_back(e.key(), generation);
  }
  return snapshot;
}

SnapshotWriter::SnapshotWriter(CoordinatorOptions options,
                               std::function<CoordinatorSnapshot()> take)
    : options_(std::move(options)), take_(std::move(take)) {
  thread_ = std::thread([this] { Loop(); });
}

SnapshotWriter::~SnapshotWriter() {
  Flush();
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void SnapshotWriter::Notify() {
  absl::MutexLock lock(&mu_);
  ++requested_;
}

void SnapshotWriter::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = requested_;
  const auto done = [&] { return written_ >= target || stop_; };
  // Bounded: a disk that hangs must not hang the coordinator's Stop() for ever.
  mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(10));
}

absl::Status SnapshotWriter::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_;
}

void SnapshotWriter::Loop() {
  while (true) {
    uint64_t target;
    {
      absl::MutexLock lock(&mu_);
      const auto pending = [this] { return stop_ || requested_ > written_; };
      mu_.Await(absl::Condition(&pending));
      if (requested_ <= written_) return;  // stop_ with nothing pending
      target = requested_;
    }
    // Taken after `target` was read, so this snapshot holds every change up to it.
    const CoordinatorSnapshot snapshot = take_();
    const absl::Status s = WriteSnapshotFile(options_, snapshot);
    absl::MutexLock lock(&mu_);
    written_ = target;
    last_error_ = s;
  }
}

}  // namespace crosslink::runtime
