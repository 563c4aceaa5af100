"""The `plate-edge` command: read images, run the daemon, check a configuration."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import cv2
import numpy as np

from . import __version__
from .annotate import draw_readings
from .classify import ModelError
from .config import Config, ConfigError, check_resources, config_schema, load_config
from .logs import setup_logging
from .reader import load_reader
from .service import run_daemon
from .types import PlateReading

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging(logging.INFO)
    if args.command == "config-schema":
        print(json.dumps(config_schema(), indent=2))
        return EXIT_OK
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"plate-edge: {exc}".replace("\n", "\nplate-edge: "), file=sys.stderr)
        return EXIT_CONFIG
    logging.getLogger().setLevel(cfg.log_level)
    try:
        return args.func(args, cfg)
    except ModelError as exc:
        print(f"plate-edge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="plate-edge", description="Edge licence-plate reader.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("read", help="read plates in images, one JSON line per image")
    r.add_argument("images", nargs="+", metavar="IMAGE")
    r.add_argument("--crop", action="store_true", help="each image is already a plate")
    r.add_argument("--model", help="model name (digits, alnum) or .tflite path; overrides the config")
    r.add_argument("--annotate", metavar="OUT.jpg", help="write the image with readings drawn on it "
                   "(with several images, OUT_<n>.jpg)")
    r.add_argument("--config", help="configuration file (default: built-in defaults)")
    r.set_defaults(func=cmd_read)

    run = sub.add_parser("run", help="run the daemon: cameras to MQTT")
    run.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    run.set_defaults(func=cmd_run)

    chk = sub.add_parser("check-config", help="validate a configuration file; exit 0 or 2")
    chk.add_argument("config", metavar="FILE")
    chk.set_defaults(func=cmd_check_config)

    sub.add_parser("config-schema", help="print the JSON Schema of the configuration file (for editors)")
    return p


def cmd_read(args: argparse.Namespace, cfg: Config) -> int:
    try:
        reader = load_reader(cfg, args.model)
    except ModelError as exc:
        where = ("--model" if args.model and exc.key == "model.path"
                 else f"{cfg.source_file or '<built-in defaults>'}: {exc.key}")
        print(f"plate-edge: {where}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    failed = 0
    for n, image_path in enumerate(args.images):
        image = cv2.imread(image_path, cv2.IMREAD_UNCHANGED)
        if image is None or image.size == 0:
            print(f"plate-edge: {image_path}: cannot read image (missing, unreadable or not an image)",
                  file=sys.stderr)
            failed += 1
            continue
        result = reader.read_crop_timed(image) if args.crop else reader.read_frame_timed(image)
        readings = result.plates
        timings = {k: round(v, 2) for k, v in result.timings_ms.items()}
        print(json.dumps({"image": image_path, "plates": [r.to_json() for r in readings],
                          "timings_ms": timings}), flush=True)
        if args.annotate and not _write_annotated(image, readings, args.annotate,
                                                  n if len(args.images) > 1 else None):
            failed += 1
    return EXIT_FAILED if failed else EXIT_OK


def _write_annotated(image: np.ndarray, readings: list[PlateReading], out: str, index: int | None) -> bool:
    path = Path(out)
    if index is not None:
        path = path.with_name(f"{path.stem}_{index}{path.suffix or '.jpg'}")
    try:
        ok = cv2.imwrite(str(path), draw_readings(image, readings))
    except cv2.error as exc:          # e.g. no image format for the file's extension
        print(f"plate-edge: {path}: cannot write annotated image: {exc}", file=sys.stderr)
        return False
    if not ok:
        why = f"no such folder: {path.parent}" if not path.parent.is_dir() else "write failed"
        print(f"plate-edge: {path}: cannot write annotated image ({why})", file=sys.stderr)
    return bool(ok)


def cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    return run_daemon(cfg)


def cmd_check_config(args: argparse.Namespace, cfg: Config) -> int:
    # main() has already loaded and validated the file; what is left is what `run` would fail on
    # besides it: the model it names, TLS files, the password file, the state folder.
    try:
        check_resources(cfg, model=True)
    except ConfigError as exc:
        print(f"plate-edge: {exc}".replace("\n", "\nplate-edge: "), file=sys.stderr)
        return EXIT_CONFIG
    print(f"{args.config}: ok")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
