#!/usr/bin/env python3
"""DeepSpeed's 2021 pipeline schedule, replayed with blocking transfers (docs/simulator.md).

Question it answers: does DeepSpeed's TrainSchedule, as MT-NLG ran it (every transfer a
dist.broadcast on a two-rank group, so each send waits for its receive), cost more than the
1F1B time the simulator charges, sum of per-stage times + (m - 1) x the slowest stage?

The per-stage instruction order is TrainSchedule.steps() of deepspeed/runtime/pipe/schedule.py
at v0.5.0 (microsoft/DeepSpeed @ f28432441bae, lines 'class TrainSchedule' to
'_odd_step_backward_id'); p2p.py at the same commit sends and receives with dist.broadcast.
Transfers between two stages use one group for both directions, so they match in issue order.
Each transfer completes at max(post times) + c on both sides (a rendezvous).

Usage: deepspeed_train_schedule.py [--last FACTOR] STAGES BACKWARD_OVER_FORWARD TRANSFER M [M ...]
  e.g. 35 3 0 240 192 160   (MT-NLG: 35 stages, full recompute, free links)
  --last 1.1: the last stage (the LM head's) takes 1.1x the others' forward and backward.
Prints, per M, the replayed step time and the 1F1B time, in units of one forward.
"""
import sys


def instructions(stage, stages, m):
    """TrainSchedule.steps() for `stage`: (kind, peer, micro_batch) in issue order."""
    def step_to_micro_batch(step):
        if step % 2 == 0 and stage % 2 == 0:
            return step // 2 - stage // 2, True
        if step % 2 == 1 and stage % 2 == 1:
            return (step - 1) // 2 - stage // 2, True
        if step % 2 == 0 and stage % 2 == 1:
            return step // 2 - stages + (stage + 1) // 2, False
        return (step - 1) // 2 - stages + 1 + stage // 2, False

    def valid(i):
        return 0 <= i < m

    out, prev = [], -1
    for step in range(2 * (m + stages - 1)):
        mb, forward = step_to_micro_batch(step)
        if forward:
            if valid(mb) and stage > 0:
                out.append(("recv_act", stage - 1, mb))
            if valid(prev) and stage > 0:
                out.append(("send_grad", stage - 1, prev))
        else:
            if valid(prev) and stage < stages - 1:
                out.append(("send_act", stage + 1, prev))
            if valid(mb) and stage < stages - 1:
                out.append(("recv_grad", stage + 1, mb))
        if valid(mb):
            out.append(("F" if forward else "B", None, mb))
        prev = mb
    return out


MATCH = {"send_act": "recv_act", "recv_act": "send_act",
         "send_grad": "recv_grad", "recv_grad": "send_grad"}


def replay(stages, m, forward_s, backward_s, transfer_s):
    prog = [instructions(s, stages, m) for s in range(stages)]
    pc, t = [0] * stages, [0.0] * stages
    remaining = sum(len(p) for p in prog)
    while remaining:
        moved = False
        for s in range(stages):
            while pc[s] < len(prog[s]):
                kind, peer, mb = prog[s][pc[s]]
                if kind in ("F", "B"):
                    t[s] += forward_s[s] if kind == "F" else backward_s[s]
                    pc[s] += 1
                    remaining -= 1
                    moved = True
                    continue
                if pc[peer] < len(prog[peer]):
                    other, back, mb2 = prog[peer][pc[peer]]
                    if other == MATCH[kind] and back == s:
                        assert mb2 == mb, (s, kind, mb, peer, other, mb2)
                        t[s] = t[peer] = max(t[s], t[peer]) + transfer_s
                        pc[s] += 1
                        pc[peer] += 1
                        remaining -= 2
                        moved = True
                        continue
                break
        if not moved:
            raise RuntimeError("deadlock at " + str(pc))
    return max(t)


def main():
    args, last = sys.argv[1:], 1.0
    if args[:1] == ["--last"]:
        last, args = float(args[1]), args[2:]
    if len(args) < 4:
        sys.exit(__doc__)
    stages, ratio, transfer = int(args[0]), float(args[1]), float(args[2])
    for m in map(int, args[3:]):
        fwd, bwd = [1.0] * stages, [ratio] * stages
        fwd[-1], bwd[-1] = last, ratio * last
        step = replay(stages, m, fwd, bwd, transfer)
        cells = [f + b for f, b in zip(fwd, bwd)]
        one_f_one_b = sum(cells) + (m - 1) * max(cells)
        print(f"stages {stages} m {m} backward/forward {ratio} transfer {transfer}: "
              f"replayed {step:.2f}, 1F1B {one_f_one_b:.2f}, ratio {step / one_f_one_b:.4f}")


if __name__ == "__main__":
    main()
