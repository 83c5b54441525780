"""`mobilenets train`, `eval`, `predict` and `teacher-outputs`: thin over mobilenets.train."""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import Any

from ..train.classification import write_teacher_outputs
from ..train.config import OPTIMIZERS, PRECISIONS, SCHEDULES, TrainConfig
from ..data.preprocess import transform_from_config
from ..models import create_model, model_from_weights
from ..train.evaluation import evaluate_checkpoint, evaluate_pretrained, imagenet_classes, predict, predict_images
from ..train.loop import fit, resume_config
from .common import add_json_argument, add_model_arguments, add_pretrained_arguments, emit, pretrained_overrides

DATA_HELP = "fashion-mnist, a folder with train/CLASS/* and val/CLASS/*, a folder with train.csv and val.csv, or TRAIN.csv,VAL.csv"
_FLAG = argparse.BooleanOptionalAction
PER_CLASS_LINES = 50  # more classes (ImageNet's 1000) are listed in --json only


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", help=DATA_HELP + " (default fashion-mnist)")
    group.add_argument("--in-channels", type=int, help="1 (grey) or 3 (default: 1 for fashion-mnist, else 3)")
    group.add_argument("--limit-train", type=int, metavar="N", help="use the first N training images")
    group.add_argument("--limit-val", type=int, metavar="N", help="use the first N validation images")
    group.add_argument("--min-crop-area", type=float, help="smallest random-crop area, a fraction (default 0.25)")
    group.add_argument("--augment", action=_FLAG, help="random crop and flip on training images (default on)")
    group.add_argument("--workers", type=int, help="data-loading processes (default 0)")
    group.add_argument("--cache", action=_FLAG, help="keep transformed images in memory (with --no-augment, --workers 0)")
    group.add_argument("--strict", action=_FLAG, help="stop on an unreadable image instead of skipping it")


def _add_weights_source(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` of this project, or ``--pretrained`` released weights (with ``--model``)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a .pt file or a run directory (its best.pt)")
    add_pretrained_arguments(source)
    parser.add_argument("--model", help="with --pretrained: the registered name to load into (default: inferred from the file)")


def _add_teacher_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distillation")
    group.add_argument("--teacher", metavar="NAME_OR_CHECKPOINT", help="a checkpoint of this project or a torchvision model name")
    group.add_argument("--teacher-weights", metavar="FILE", help="state_dict file for a torchvision teacher (nothing is downloaded)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a MobileNet (also under torchrun), resume, distill, fine-tune")
    parser.add_argument("--out", metavar="RUN_DIR", help="the run directory (refused if it exists, unless --resume or --force)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue RUN_DIR/last.pt as if never stopped")
    parser.add_argument("--force", action="store_true", help="start over in an existing run directory")
    add_model_arguments(parser, num_classes=None)
    parser.add_argument("--dropout", type=float, help="dropout before the classifier (default 0)")
    _add_data_arguments(parser)
    group = parser.add_argument_group("optimization")
    group.add_argument("--epochs", type=int, help="default 10")
    group.add_argument("--batch-size", type=int, help="the global batch, split across processes (default 64)")
    group.add_argument("--optimizer", choices=OPTIMIZERS, help="default rmsprop (TensorFlow semantics, as the paper)")
    group.add_argument("--lr", type=float, help="peak learning rate (default 0.01)")
    group.add_argument("--momentum", type=float, help="default 0.9")
    group.add_argument("--weight-decay", type=float, help="default 4e-5; none on depthwise filters, batch norm and biases")
    group.add_argument("--decay-depthwise", action=_FLAG, help="apply weight decay to depthwise filters too")
    group.add_argument("--schedule", choices=SCHEDULES, help="default exponential")
    group.add_argument("--decay-rate", type=float, help="exponential schedule factor (default 0.94)")
    group.add_argument("--decay-epochs", type=float, help="epochs between exponential decays (default 2)")
    group.add_argument("--warmup-epochs", type=float, help="linear warm-up (default 0)")
    group.add_argument("--label-smoothing", type=float, help="default 0 (the paper used none)")
    group.add_argument("--ema-decay", type=float, help="moving average of the weights, e.g. 0.999 (default off)")
    group.add_argument("--grad-clip", type=float, help="largest gradient norm (default off)")
    group = parser.add_argument_group("reproducibility and hardware")
    group.add_argument("--seed", type=int, help="the same seed gives identical weights on CPU")
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default auto")
    group.add_argument("--precision", choices=PRECISIONS, help="auto: bf16 on CPUs with native bf16 (else fp32), bf16/fp16 on CUDA")
    group.add_argument("--channels-last", action=_FLAG, help="channels-last memory format (default on: measured faster on CPU)")
    group.add_argument("--compile", action=_FLAG, help="torch.compile the model")
    group.add_argument("--sync-bn", action=_FLAG, help="SyncBatchNorm across processes (CUDA only)")
    group.add_argument("--freeze-bn", action=_FLAG, help="batch norm keeps its running statistics (fine-tuning)")
    _add_teacher_arguments(parser)
    group = parser.add_argument_group("distillation")
    group.add_argument("--teacher-outputs", metavar="FILE", help="precomputed teacher logits (`mobilenets teacher-outputs`)")
    group.add_argument("--distill-weight", type=float, help="w in (1-w)*CE + w*T^2*KL (default 0.5; 1 ignores labels)")
    group.add_argument("--temperature", type=float, help="T (default 4)")
    group = parser.add_argument_group("transfer")
    group.add_argument("--init", metavar="CHECKPOINT", help="start from a trained network; the classifier is replaced if the class count differs")
    group.add_argument("--freeze-backbone", action=_FLAG, help="train the classifier only")
    group.add_argument("--classifier-lr", type=float, help="learning rate of the classifier (default: --lr)")
    group.add_argument("--qat", action="store_true", help="quantization-aware fine-tuning of --init (int8 afterwards: `mobilenets export --format torchscript`)")
    add_json_argument(parser)
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser("eval", help="top-1, top-5, per-class accuracy and a confusion-matrix PNG of a checkpoint or of released weights")
    _add_weights_source(parser)
    parser.add_argument("--data", help=DATA_HELP + ", or a folder of class folders such as ImageNet's val/ "
                        "(default: the checkpoint's; needed with --pretrained)")
    parser.add_argument("--limit-val", type=int, metavar="N", help="evaluate the first N validation images")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--ema", action="store_true", help="evaluate the moving average of the weights")
    parser.add_argument("--out", help="the confusion-matrix PNG (default: CHECKPOINT's folder/NAME.confusion.png; "
                        "with --pretrained: ./WEIGHTS_NAME.confusion.png)")
    parser.add_argument("--force", action="store_true", help="replace an existing confusion-matrix PNG")
    add_json_argument(parser)
    parser.set_defaults(handler=run_eval)

    parser = subparsers.add_parser("predict", help="the top classes of a checkpoint (or pretrained weights) for image files")
    _add_weights_source(parser)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--ema", action="store_true", help="use the moving average of the weights")
    add_json_argument(parser)
    parser.set_defaults(handler=run_predict)

    parser = subparsers.add_parser("teacher-outputs", help="a teacher's logits for the un-augmented training images, once")
    _add_teacher_arguments(parser)
    parser.add_argument("--data", help=DATA_HELP + " (default fashion-mnist)")
    parser.add_argument("--resolution", type=int, help="input size in pixels (default 224)")
    parser.add_argument("--in-channels", type=int, help="1 or 3 (default: 1 for fashion-mnist, else 3)")
    parser.add_argument("--limit-train", type=int, metavar="N", help="the first N training images")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--out", required=True, metavar="FILE")
    parser.add_argument("--force", action="store_true", help="replace an existing FILE")
    add_json_argument(parser)
    parser.set_defaults(handler=run_teacher_outputs)


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields set on the command line (everything else keeps its default)."""
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    return {key: value for key, value in vars(args).items() if key in names and value is not None}


def _qat_model(config: TrainConfig) -> tuple[TrainConfig, Any, tuple[str, dict[str, Any]]]:
    """The QAT-prepared --init network (observers calibrated on the training data when it is
    fashion-mnist or a folder) and the factory that rebuilds it for --resume, eval and export."""
    from ..deploy.qat import prepared_model

    if not config.init:
        raise ValueError("--qat fine-tunes a trained float network: give --init FLOAT_CHECKPOINT")
    data = config.data if config.data == "fashion-mnist" or Path(config.data).is_dir() else None
    kwargs = {"float_checkpoint": str(Path(config.init).resolve()), "calibration_data": data}
    # The prepared model carries the float weights already; --init must not load them again.
    return dataclasses.replace(config, init=None), prepared_model(**kwargs), ("mobilenets.deploy.qat:prepared_model", kwargs)


def run_train(args: argparse.Namespace) -> int:
    given = _given(args)
    if args.resume:
        if args.out and Path(args.out) != Path(args.resume):
            raise ValueError("--resume RUN_DIR continues RUN_DIR; leave out --out or give the same folder")
        config = resume_config(args.resume, **{k: v for k, v in given.items() if k != "out"})
    elif not args.out:
        raise ValueError("give --out RUN_DIR (a new folder), or --resume RUN_DIR")
    else:
        config = TrainConfig(**given)
    model = factory = None
    if args.qat and not args.resume:
        config, model, factory = _qat_model(config)
    try:
        summary = fit(config, model=model, model_factory=factory, resume=bool(args.resume), force=args.force)
    except FloatingPointError as error:
        print(f"mobilenets train: {error}", file=sys.stderr)
        return 1
    if int(os.environ.get("RANK", "0")) == 0:
        emit(summary, args.json, format_summary)
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"test top-1 {summary['top1']:.2%}, top-5 {summary['top5']:.2%} after {summary['epochs']} epochs"
        + (f" (best top-1 {summary['best_top1']:.2%} at epoch {summary['best_epoch']})" if summary.get("best_top1") else ""),
        f"{summary['mult_adds'] / 1e6:.2f}M mult-adds, {summary['params'] / 1e6:.3f}M parameters",
        f"{summary['images_per_second']:.0f} training images/s ({summary['train_seconds']:.0f} s of training)",
    ]
    if summary.get("ema_top1") is not None:
        lines.append(f"moving average of the weights: top-1 {summary['ema_top1']:.2%}")
    if summary.get("skipped_files"):
        lines.append(f"{summary['skipped_files']} unreadable image files skipped")
    lines.append(f"run: {summary['run_dir']}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    options = dict(limit=args.limit_val, batch_size=args.batch_size, workers=args.workers, force=args.force)
    if args.checkpoint:
        checkpoint = Path(args.checkpoint)
        file = checkpoint if checkpoint.is_file() else checkpoint / "best.pt"
        plot = args.out or file.with_suffix(".confusion.png")
        result = evaluate_checkpoint(file, args.data, ema=args.ema, plot=plot, **options)
    else:
        if not args.data:
            raise ValueError("--pretrained needs --data: a folder with the weights' classes (e.g. ImageNet's val/, one folder per synset)")
        if args.ema:
            raise ValueError("--ema is for checkpoints of this project; released weights have no moving average")
        model = _pretrained_model(args)
        plot = args.out or f"{Path(args.pretrained.split('#')[0]).name.removesuffix('.index')}.confusion.png"
        result = evaluate_pretrained(model, args.data, weights=args.pretrained, plot=plot, **options)
    emit(result, args.json, format_evaluation)
    return 0


def _pretrained_model(args: argparse.Namespace) -> Any:
    """The model ``--pretrained`` (and ``--model``) describe, in eval mode."""
    if args.model:
        return create_model(args.model, **pretrained_overrides(args)).eval()
    return model_from_weights(args.pretrained, drop_background=args.drop_background).eval()


def format_evaluation(result: dict[str, Any]) -> str:
    source = result.get("checkpoint") or result["weights"]
    lines = [f"{source} on {result['data']} ({result['images']} images): top-1 {result['top1']:.2%}, top-5 {result['top5']:.2%}, loss {result['loss']:.4f}"]
    if len(result["per_class"]) > PER_CLASS_LINES:
        lines.append(f"  per-class accuracy of the {len(result['per_class'])} classes: --json")
    else:
        width = max(len(name) for name in result["per_class"])
        lines += [
            f"  {name:<{width}}  {'-' if accuracy is None else f'{accuracy:.2%}'}" for name, accuracy in result["per_class"].items()
        ]
    if "confusion_png" in result:
        lines.append(f"confusion matrix: {result['confusion_png']}")
    return "\n".join(lines)


def run_predict(args: argparse.Namespace) -> int:
    if args.checkpoint:
        results = predict(args.checkpoint, args.images, top_k=args.top_k, ema=args.ema)
    else:
        model = _pretrained_model(args)
        classes = imagenet_classes(model.num_classes, model.pretrained_cfg.get("label_offset", 0))
        results = predict_images(model, transform_from_config(model.pretrained_cfg), classes, args.images, top_k=args.top_k)
    emit(results, args.json, lambda rows: "\n".join(
        f"{row['image']}: " + ", ".join(f"{top['class']} {top['probability']:.1%}" for top in row["top"]) for row in rows
    ))
    return 0


def run_teacher_outputs(args: argparse.Namespace) -> int:
    config = TrainConfig(out=".", **{k: v for k, v in _given(args).items() if k != "out"}).validate().resolved()
    result = write_teacher_outputs(config, args.out, batch_size=args.batch_size, force=args.force)
    emit(result, args.json, lambda r: f"{r['images']} teacher outputs ({r['num_classes']} classes) of {r['teacher']} on {r['data']}: {r['out']}")
    return 0
