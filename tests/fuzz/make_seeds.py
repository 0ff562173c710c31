#!/usr/bin/env python3
"""Writes the binary seed inputs of the fuzz corpus (frames, handshakes, compressed messages),
encoded exactly as the C++ encoders do (frame.h, tcp/hello_codec.h, handshake.h, wire_codec.h),
into tests/fuzz/corpus/<target>/. The text seeds (scenarios, TLEs, ION plans, node lists) are
copies of real files and lists, kept as they are. Run from anywhere: /usr/bin/python3 make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(job, seq, chunk, tag, payload, length=None):
    length = len(payload) if length is None else length
    head = struct.pack("<IHHQQIIQI", 0x4B4E4C58, 1, 0, job, seq, chunk, tag, length,
                       crc32c(payload))
    return head + struct.pack("<I", crc32c(head)) + payload


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


JOB = 0x5EED  # frame_fuzzer.cc's kJobId
# Frames: a stream of three messages; a trailing choice byte (read from the back) posts
# receives before the frames.
stream = (frame(JOB, 1, 0, 7, bytes(range(16))) + frame(JOB, 1, 1, 7, b"") +
          frame(JOB, 1, 2, 7, bytes(200)))
write("frame", "three_frames", stream + b"\x03\x00\x10\x00\x10\x00\x10")
write("frame", "unexpected_then_posted", stream + b"\x20\x20\x20")
write("frame", "huge_length", frame(JOB, 1, 0, 7, b"", length=1 << 40))
write("frame", "other_job", frame(0x1234, 1, 0, 7, b"abcd"))
write("frame", "bad_payload_crc",
      frame(JOB, 2, 0, 7, b"abcd")[:48] + b"abce")

# Handshake v1 (tcp/hello_codec.h) and v2 (handshake.h) messages.
hello1 = struct.pack("<IHHQII", 0x53484C58, 1, 0, 0xC0FFEE, 3, 0)
write("handshake", "v1_hello", hello1)
write("handshake", "v1_wrong_job", struct.pack("<IHHQII", 0x53484C58, 1, 1, 0xC0FFEE, 0, 0))
prefix = lambda kind: struct.pack("<IHH", 0x32484C58, 2, kind)
write("handshake", "v2_hello", prefix(1) + struct.pack("<QII", 0xC0FFEE, 3, 1) + bytes(range(32)))
write("handshake", "v2_challenge", prefix(2) + bytes(range(32)) + bytes(range(32, 64)))
write("handshake", "v2_proof", prefix(3) + bytes(range(64, 96)))
write("handshake", "v2_verdict", prefix(4) + struct.pack("<I", 0))

# Compressed messages: the trailing byte chooses the layout (0 none, 1 bf16, 2 int8; the
# reduction is choice / 3).
floats = [((i * 37) % 101 - 50) / 7.0 for i in range(300)]
write("compressed_wire", "none", struct.pack("<300f", *floats) + b"\x00")
bf16 = b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:]
                for v in floats)
write("compressed_wire", "bf16", bf16 + b"\x01")
scales = []
q = b""
for block in (floats[:256], floats[256:]):
    s = max(abs(v) for v in block) / 127.0
    scales.append(s)
    q += bytes((round(v / s) & 0xFF) for v in block)
write("compressed_wire", "int8", struct.pack("<2f", *scales) + q + b"\x02")
write("compressed_wire", "int8_nan_scale", struct.pack("<2f", float("nan"), float("inf")) + q +
      b"\x05")


# Host kernels: operand bits, then the choices host_kernels_fuzzer.cc reads from the back, in the
# order it reads them: kind (0 reduce, 1 kAvg, 2/6 int8 codec, 3/7 bf16 codec; +4 error
# feedback), type (0 f32, 1 f64, 2 f16, 3 bf16, 4 i32, 5 i64), op (0 sum, 1 avg, 2 min, 3 max),
# start offset, world size - 1 (two bytes, high first), and a byte that is 0 mod 8 for a world
# size from four more bytes, 1 mod 8 for one from a table of edge sizes (a byte more), else 2.
def kernel_seed(payload, kind, dtype, op=0, offset=0, world_size=3):
    choices = [kind, dtype, op, offset, (world_size - 1) >> 8, (world_size - 1) & 0xFF, 2]
    return payload + bytes(reversed(choices))


specials = [float("nan"), float("inf"), -float("inf"), -0.0, 1e-40, -1e-45, 3.4e38]
grads = [((i * 7919) % 2003 - 1001) * 1e-6 for i in range(2048)] + specials
f32 = struct.pack("<%df" % len(grads), *grads)
write("host_kernels", "reduce_sum_f32", kernel_seed(f32, 0, 0))
write("host_kernels", "reduce_max_f16_offset", kernel_seed(f32, 0, 2, op=3, offset=6))
write("host_kernels", "reduce_sum_bf16", kernel_seed(f32, 0, 3))
write("host_kernels", "avg_f32_by_6", kernel_seed(f32, 1, 0, world_size=6))
write("host_kernels", "avg_bf16_table", kernel_seed(f32 * 3, 1, 3, world_size=3))
write("host_kernels", "avg_i32_by_7", kernel_seed(f32, 1, 4, world_size=7))
write("host_kernels", "avg_i64_by_5", kernel_seed(
    struct.pack("<512q", *[(i * 104729 - 2 ** 20) << (i % 30) for i in range(512)]), 1, 5,
    world_size=5))
write("host_kernels", "int8_feedback", kernel_seed(f32, 6, 0))
write("host_kernels", "bf16_codec", kernel_seed(f32, 3, 0))
