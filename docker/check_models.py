"""Check the model files bundled into the image (docker/Dockerfile, MODELS=bundled), after `piccl models fetch`.

Every model of the manifest that has a download source must be in FOLDER with its sha256; a model without one
(EfficientNet-Lite0, whose ONNX file is an export made for piccl) is bundled only when its file was put in
docker/extra-models/ before the build, and is reported otherwise. A file whose size or sha256 is wrong fails the
build.

Usage: python docker/check_models.py FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

from models.fetch import ModelState, load_manifest, locate


def check(folder: Path) -> list[str]:
    """One line per model on stdout; returns the problems that must fail the build."""
    problems: list[str] = []
    for name, spec in load_manifest().items():
        status = locate(spec, [folder])
        if status.ok:
            print(f"model {name}: ok ({status.path})")
        elif status.state is ModelState.CORRUPT:
            problems.append(f"model {name}: {status.detail}")
        elif spec.url:
            problems.append(f"model {name}: {spec.file} is missing (the download failed, see above)")
        else:
            print(f"model {name}: not bundled ({spec.file} has no download; put it in docker/extra-models/ before "
                  "the build, or in PICCL_MODELS_DIR at run time)")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(Path(args[0]))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
