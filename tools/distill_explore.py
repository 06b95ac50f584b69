"""Solo against distilled students on Fashion-MNIST, seed by seed: the exploration behind the
redesign of notebook 07's stored sweep (one thread; test accuracy on the 10,000 test images).

Usage: python tools/distill_explore.py TEACHER_WIDTH STUDENT_WIDTH TEMPERATURE WEIGHT
       IMAGES_PER_RUN SIZES SEEDS TEACHER_CHECKPOINT [LR]
e.g.   python tools/distill_explore.py 48 16 4 0.5 40000 1000,5000 2 data/zoo/teacher.pt 3e-3
(epochs = max(10, IMAGES_PER_RUN / size); a seed's solo and distilled runs share initial
weights and batch order).
"""

from __future__ import annotations

import sys
import time

import torch

import labkit
from labkit.distill.students import student, teacher_logits, train_student
from labkit.env import using_threads
from labkit.fashion import load_fashion_mnist
from labkit.models import SmallCNN
from labkit.train import evaluate


def main(argv: list[str]) -> None:
    tw, sw = int(argv[0]), int(argv[1])
    temperature, weight, per_run = float(argv[2]), float(argv[3]), int(argv[4])
    sizes, seeds = [int(s) for s in argv[5].split(",")], range(int(argv[6]))
    lr = float(argv[8]) if len(argv) > 8 else 1e-2
    labkit.setup(quiet=True)
    data = load_fashion_mnist()
    teacher = SmallCNN(width=tw)
    teacher.load_state_dict(torch.load(argv[7]))
    teacher.eval()
    with using_threads(1):
        print("teacher", evaluate(teacher, data.test), flush=True)
        targets = teacher_logits(teacher, data.train)
        for n in sizes:
            for s in seeds:
                accs = []
                for wanted in (None, targets[:n]):
                    start = time.perf_counter()
                    net = student(sw, seed=s)
                    train_student(
                        net,
                        data.train.subset(n),
                        wanted,
                        temperature=temperature,
                        weight=weight,
                        epochs=max(10, round(per_run / n)),
                        lr=lr,
                        seed=s,
                        progress=False,
                    )
                    accs.append(evaluate(net, data.test).percent)
                print(
                    f"n={n} seed={s} solo {accs[0]:.2f} distilled {accs[1]:.2f} "
                    f"gain {accs[1] - accs[0]:+.2f} ({time.perf_counter() - start:.0f}s/run)",
                    flush=True,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
