// ThreadSanitizer support for Debian's gRPC: the suppressions every program of the `tsan` preset
// starts with (linked in with tsan_absl_mutex.cc and tsan_absl_status.cc).
//
// Why: gRPC's C core (libgrpc.so) is built without TSan. It hands its own buffers between threads
// through lock-free queues and reference counts (combiners, the completion queue, slice refcounts)
// whose atomics TSan cannot see, so every RPC reports races inside it: a slice that the calling
// thread serialized a request into and a server thread then sends (tcp_send), a call object one
// thread unrefs and another deletes. The absl::Mutex annotations do not help there: these
// hand-overs take no mutex.
//
// What is suppressed, each a report with a frame (of an access, of the allocation, of a thread's
// creation) that names it:
//   - libgrpc.so, the C core, and the libraries it calls, also built without TSan (Abseil's
//     status, cord, time zone and random pool, which initialise lazily; upb): their accesses reach
//     TSan only through interceptors (memcpy, sendmsg, new), their synchronisation not at all;
//   - memory that gRPC allocates for itself (gpr_malloc, gpr_realloc, gpr_zalloc) or for a sync
//     server's pending call (SyncRequestThreadManager::AddSyncMethod): its server context and
//     request buffers are filled in one of gRPC's threads and handed to the handler's thread
//     through the completion queue;
//   - the completion queue's own reads at the top of a stack (CompletionQueue::Pluck);
//   - a request's deserialization (grpc::SerializationTraits<...>::Deserialize) in a sync server
//     thread: it parses a slice that gRPC allocated (MemoryAllocator::MakeSlice) and that OpenSSL
//     filled in another of gRPC's threads when it decrypted the TLS record, handed over through
//     gRPC's queues (seen once in communicator_test's TLS coordinator: the read in protobuf's
//     ReadTag, the write a memcpy inside libssl.so). The slice and the message are gRPC's own;
//     Crosslink's handlers see the parsed message only after this frame returns;
//   - OpenSSL freeing one of its locks (CRYPTO_THREAD_lock_free) in gRPC's event-engine thread
//     after another thread last took it: the TLS object holding the lock reaches that thread
//     through gRPC's uninstrumented queues (seen once in coordinator_security_test's TLS
//     coordinator). Only the free is suppressed: a race on an SSL object Crosslink's data TLS
//     shares between its own threads is still reported (tcp_tls_test).
// Not suppressed: Crosslink's code, which runs in gRPC's threads through libgrpc++.so (handlers,
// client stubs) and whose state Crosslink allocates, so a race between two of Crosslink's
// handlers, or a handler and a client thread, is still reported; nor libgpr.so as a module, whose
// thread creation is in the stack of every gRPC thread.
//
// TSan calls __tsan_default_suppressions at start-up; the programs link with -rdynamic so this
// definition is the one it finds. TSAN_OPTIONS=suppressions=<file> adds more.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libgrpc.so\n"
         "race:libabsl_status.so\n"
         "race:libabsl_cord.so\n"
         "race:libabsl_time_zone.so\n"
         "race:libabsl_random_internal_pool_urbg.so\n"
         "race:libupb.so\n"
         "race:gpr_malloc\n"
         "race:gpr_realloc\n"
         "race:gpr_zalloc\n"
         "race:grpc::Server::SyncRequestThreadManager::AddSyncMethod\n"
         "race_top:grpc::CompletionQueue::Pluck\n"
         "race:grpc::SerializationTraits*::Deserialize\n"
         "race:CRYPTO_THREAD_lock_free\n";
}
