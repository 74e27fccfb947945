//! Benchmarks of EasBase.
