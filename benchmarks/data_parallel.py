"""Steps per second of data-parallel training (``training.distributed.fit``) on 1 and 2
local Dask workers against the single-process ``fit``, per batch size, on workload A's
network (784-256-128-10 ReLU, float32, synthetic data), with the bytes each step moves.

    python -m benchmarks.data_parallel [--batches 32 128 512 4096] [--steps 20] [--rounds 3]

Every step sends the parameters to each worker (float32, 4 bytes each) and brings a
gradient sum back from each (float64, 8 bytes: the sums are added in double precision):
``12 x n_params`` bytes per worker. In-process workers (``processes=False``)
pay the scheduling and (de)serialization, not a network: on real machines add
``bytes / bandwidth`` per step. The timed epoch includes sending the shards once.
"""

from __future__ import annotations

import argparse
import statistics
import time

from .workloads import glassnet_model, make_data

HIDDEN = (256, 128)


def steps_per_second(X, y, batch, client=None):
    """One epoch of ``fit`` (on ``client``'s workers when given), in steps per second."""
    from glassnet.training import distributed

    net, start = glassnet_model(HIDDEN), time.perf_counter()
    if client is None:
        net.fit(X, y, epochs=1, batch_size=batch, verbose=0)
    else:
        distributed.fit(net, X, y, client=client, epochs=1, batch_size=batch, verbose=0)
    return -(-len(X) // batch) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512, 4096])
    parser.add_argument("--steps", type=int, default=20, help="steps timed per batch size")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per batch size; the medians are printed")
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster

    n_params = sum((a + 1) * b for a, b in zip((784, *HIDDEN), (*HIDDEN, 10)))
    print(f"784-256-128-10: {n_params:,} parameters; per step and worker "
          f"{12 * n_params / 1e6:.2f} MB (params out + gradient sums back)")
    print(f"{'batch':>6} {'1 process':>10} {'1 worker':>10} {'2 workers':>10}  steps/s "
          f"(median of {args.rounds}); ratio 2 workers / 1 process")
    clusters = {k: LocalCluster(n_workers=k, threads_per_worker=1, processes=False,
                                protocol="tcp://", dashboard_address="127.0.0.1:0")
                for k in (1, 2)}
    clients = {k: Client(c) for k, c in clusters.items()}
    try:
        for batch in args.batches:
            X, y = make_data(batch * args.steps)
            rounds = [[steps_per_second(X, y, batch)]
                      + [steps_per_second(X, y, batch, client) for client in clients.values()]
                      for _ in range(args.rounds)]
            row = [statistics.median(r[i] for r in rounds) for i in range(3)]
            print(f"{batch:>6} " + " ".join(f"{r:>10.1f}" for r in row)
                  + f"  {row[2] / row[0]:.2f}x")
    finally:
        for k in clients:
            clients[k].close()
            clusters[k].close()


if __name__ == "__main__":
    main()
