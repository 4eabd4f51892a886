"""A rank whose own code raises ends the job at once: the others, waiting for it in a
collective with a 120 s timeout, must not wait that long (ctest's TIMEOUT of 40 s fails the test
if they do). Rank 1 reports OK before it raises; mpirun's status is 1 by design
(TANGRAM_EXPECT_OK_LINES 1)."""

import torch

import tangram.torch as tt


def main():
    torch.set_num_threads(1)
    tt.init(timeout=120)
    x = torch.ones(4)
    tt.allreduce(x)  # every rank is up
    if tt.rank() == 1:
        print("rank 1: raising a user error OK", flush=True)
        raise RuntimeError("a user error in the training loop")
    tt.allreduce(x)  # waits for rank 1, which is gone
    print(f"rank {tt.rank()}: the allreduce returned although rank 1 raised", flush=True)


if __name__ == "__main__":
    main()
