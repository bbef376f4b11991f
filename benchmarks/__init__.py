"""Speed and parity benchmarks: ``python -m benchmarks`` runs the speed workloads A-E."""
