//! Allocation counting and frame helpers shared by the benchmarks.
