"""Regenerate reportgen/sample/cifar10: a class-balanced random sample of real CIFAR-10 JPEGs.

Usage: python scripts/make_sample.py data/cifar10-jpeg   (the unpacked ../shared/data archive)

The files are copied byte for byte (no re-encoding), chosen with a fixed seed so the sample is
reproducible. 400 training and 100 test images per class keep it under the 5 MB the repository allows.
"""

import random
import shutil
import sys
from pathlib import Path

PER_CLASS = {"train": 400, "test": 100}
SEED = 0


def main(source: Path) -> None:
    target = Path(__file__).resolve().parent.parent / "reportgen" / "sample" / "cifar10"
    shutil.rmtree(target, ignore_errors=True)
    rng = random.Random(SEED)
    for split, count in PER_CLASS.items():
        for class_dir in sorted(p for p in (source / split).iterdir() if p.is_dir()):
            chosen = sorted(rng.sample(sorted(class_dir.glob("*.jpg")), count))
            out = target / split / class_dir.name
            out.mkdir(parents=True)
            for path in chosen:
                shutil.copyfile(path, out / path.name)
    print(f"wrote {sum(PER_CLASS.values()) * 10} images to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
