// The process heap's policy for the reference GPT's tensors: freed memory stays in the process.
//
// Every layer allocates its activations and gradients afresh (Tensor is a std::vector) and frees
// them when the micro-batch's backward is done. glibc's malloc hands blocks above its mmap
// threshold to mmap and returns them with munmap, and gives the top of the heap back to the kernel
// past its trim threshold; the next micro-batch then faults every page in again and zeroes it.
// Which of that happens depends on what else sits on the heap, so the same layers ran at different
// rates in the compute probe (one layer over and over) and in training (the whole stage), and in a
// one-rank run against a two-rank one: `perf` on a one-rank `tangram train` of tiny-gpt showed
// 17 % of its time in page faults and 16 % in memset of fresh pages; it trained at 0.017 TFLOP/s
// where the probe read 0.024, and at 0.030 (probe 0.032) with this policy (docs/simulator.md,
// session 19).
// A caching allocator (PyTorch's) would be the larger answer; telling malloc to keep what it was
// given is the one that the reference model needs.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_HEAP_H_
#define TANGRAM_ORCHESTRATOR_MODEL_HEAP_H_

namespace tangram::train {

// Sets glibc's mmap threshold to its maximum (32 MiB on 64-bit: blocks up to that size come from
// the heap and are reused) and its trim threshold to 1 GiB (freed heap is kept for the next
// micro-batch). Idempotent; a no-op where the C library is not glibc or its allocator is replaced
// (AddressSanitizer's: mallopt returns 0 there, and this returns false), and where the environment
// sets TANGRAM_KEEP_FREED_MEMORY=0 (a host that needs freed memory back; bench/heap_policy.sh
// runs with and without it). Returns whether the policy is in force. Called by BuildGptLayers;
// process-wide, like SetBlasThreads.
bool KeepFreedMemory();

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_HEAP_H_
