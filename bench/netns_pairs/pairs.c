// Pairs across two hosts (ranks 0,1 on host A; 2,3 on host B; pair i = ranks i and i + n/2), Open
// MPI's in-place MPI_Iallreduce on each pair (polled, napping 100 us between tests), one untimed
// rep and REPS timed. Usage: pairs BYTES GAP_S REPS BARRIER. With BARRIER 1 each rep starts from a
// barrier and is timed as the slowest rank; GAP_S of busy compute precedes each rep. Prints the
// median, min and max, each rank's mean, and the loop's wall time per rep. Run by run.sh.
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static void spin(double s) {
  double e = now() + s;
  volatile double x = 0;
  while (now() < e) x += 1;
}
static int cmp(const void* a, const void* b) {
  double x = *(double*)a, y = *(double*)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int r, n;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  enum { kMaxReps = 64, kMaxRanks = 64 };
  if (argc != 5 || atoi(argv[3]) < 1 || atoi(argv[3]) > kMaxReps || n < 2 || n % 2 != 0 ||
      n > kMaxRanks) {
    if (r == 0) {
      fprintf(stderr,
              "usage: pairs BYTES GAP_S REPS(1-%d) BARRIER(0|1), on an even number of "
              "ranks (2-%d)\n",
              kMaxReps, kMaxRanks);
    }
    MPI_Finalize();
    return 2;
  }
  size_t bytes = atol(argv[1]);
  double gap = atof(argv[2]);
  int reps = atoi(argv[3]);
  int barrier = atoi(argv[4]);
  MPI_Comm pair;
  MPI_Comm_split(MPI_COMM_WORLD, r % (n / 2), r, &pair);
  size_t cnt = bytes / 4;
  float* buf = malloc(cnt * 4);
  for (size_t i = 0; i < cnt; i++) buf[i] = 1;
  double ts[kMaxReps];
  double mine_sum = 0;
  double start = 0;
  for (int k = -1; k < reps; k++) {
    if (barrier) MPI_Barrier(MPI_COMM_WORLD);
    if (gap > 0) spin(gap);
    double t0 = now();
    MPI_Request q;
    MPI_Iallreduce(MPI_IN_PLACE, buf, cnt, MPI_FLOAT, MPI_SUM, pair, &q);
    int done = 0;
    while (!done) {
      MPI_Test(&q, &done, MPI_STATUS_IGNORE);
      if (!done) {
        struct timespec s = {0, 100000};
        nanosleep(&s, 0);
      }
    }
    double mine = now() - t0, slow = mine;
    if (barrier) MPI_Allreduce(&mine, &slow, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (k >= 0) {
      ts[k] = slow;
      mine_sum += mine;
    }
    if (k == -1) {
      MPI_Barrier(MPI_COMM_WORLD);
      start = now();
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double per_rep = (now() - start) / reps;
  qsort(ts, reps, sizeof(double), cmp);
  double all[kMaxRanks];
  double m = mine_sum / reps;
  MPI_Gather(&m, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (r == 0) {
    printf(
        "bytes %zu gap %.3f barrier %d: median slowest %.4f s (min %.4f max %.4f); per-rank mean",
        bytes, gap, barrier, ts[reps / 2], ts[0], ts[reps - 1]);
    for (int i = 0; i < n; i++) printf(" %.3f", all[i]);
    printf("; loop per rep %.4f s\n", per_rep);
  }
  MPI_Finalize();
}
