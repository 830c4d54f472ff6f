"""The box model's card (MODEL_CARD.md beside it): what `train boxes` made it from, how, and its thresholds."""

from __future__ import annotations

from pathlib import Path

ORIGINS = {  # the card's first sentence, by origin(recipe)
    "classifier": "The box path's crop classifier: the shared CIFAR-10 classifier with an eleventh score, background, "
               "fine-tuned end to end on proposal crops (batch-norm statistics frozen)",
    "fast classifier": "The box path's crop classifier: the fast ten-class classifier (training/fast_classifier.py, "
               "training/fastnet.py's net) with an eleventh score, background, fine-tuned end to end on proposal crops "
               "(batch-norm statistics frozen)",
    "scratch": "The box path's crop classifier (also the FCN path's coarse level and region namer): a net of its own, "
               "trained from scratch with eleven scores, the ten classes and background",
}


def origin(recipe: dict) -> str:
    """What a run started from: "scratch", the shipped "classifier" or a "fast classifier" (logs before the
    fast backbone name no net: the classifier)."""
    if recipe["name"] == "scratch":
        return "scratch"
    return "fast classifier" if recipe.get("net", "cifar_resnet9").startswith("fastnet") else "classifier"


def write_model_card(out: Path, log: dict, pad: int) -> None:
    """MODEL_CARD.md beside the box model: command, data, fit (`pad`: its random shifts), threshold per proposal
    method, from `train boxes`' log."""
    from streamsee.training.export import invocation

    calibration = log["calibration"]
    float_name, int8_name = log["exported"]  # the float export first
    last = log["history"][-1]
    recipe = log["recipe"]
    side = log.get("input_size", 32)  # the input side (logs before it was an option: 32)
    lines = [
        "# Model card: box_model",
        "",
        ORIGINS[origin(recipe)]
        + ", so that a box's score is its class probability among the ten and background.",
        "",
        f"- Produced by: `{invocation()}`",
        (f"- Started from: `{recipe['init']}` (an earlier run's box model: a warm restart)" if recipe.get("init") else
         f"- Started from: `{recipe['backbone_weights']}` (background score at zero)" if recipe["name"] == "fine-tune" else
         f"- Net: `{recipe['net']}` (training/fastnet.py), trained from scratch after airbench94's recipe"),
        f"- Data: {log['crops']} crops ({log['background_crops']} background) cut by both proposal methods "
        f"(plus {log['jittered_per_object']} jittered copies of each object's box) from {log['scenes']} 640x480 "
        "scenes of CIFAR-10 *training* images on scikit-image's photos and Debian's wallpapers (all but the calibration "
        "ones: scenes.CALIBRATION_BACKGROUNDS, WALLPAPERS['calibrate']); a crop at IoU >= "
        f"{log['object_iou']} with an object is its class, one under {log['background_iou']} with all is background; "
        f"and {log['cifar_images']} CIFAR-10 training images at their classes"
        + (f" (upscaled to {side}x{side})" if side != 32 else "")
        + (f"; and {log['tiny']['photos']} Tiny ImageNet *training* photos (`{log['tiny']['archive']}`, resized 64 to {side}"
           + (f", {log['tiny']['softened_share']:.0%} of them through 32 px on the way" if log['tiny'].get('softened_share') else "")
           + "), "
           f"{log['tiny']['background_photos']} of them of the `none` classes as background, the rest at the CIFAR-10 class "
           "that cifar10_map.csv gives (ambiguous classes left out), weighted to "
           f"{log['tiny']['real_share']:.0%} of each side" if log.get("tiny") else "")
        + (f"; and as background one piece of each of those photos of the classes ({log['tiny']['part_crops']}: a square "
           f"of {log['tiny']['part_sides'][0]:.0%}-{log['tiny']['part_sides'][1]:.0%} of its side at a random place)"
           if log.get("tiny") and log["tiny"].get("part_crops") else "")
        + (f"; and as background one piece of each `none` photo ({log['tiny']['none_pieces']}: "
           f"{log['tiny']['none_piece_sides'][0]:.0%}-{log['tiny']['none_piece_sides'][1]:.0%} of its side)"
           if log.get("tiny") and log["tiny"].get("none_pieces") else "")
        + (f"; while training each of the {log['tiny']['none_classes']} `none` classes had a score of its own beside "
           "background, summed into it for export (training/none_classes.py)"
           if log.get("tiny") and log["tiny"].get("none_classes") else "")
        + ". Never CIFAR-10 test images, never Tiny ImageNet val images, never ../shared/media",
        (f"- Fit: {log['epochs']} epochs, batch {recipe['batch_size']}, SGD (Nesterov 0.9) from {recipe['learning_rate']} with "
         f"cosine decay, flips and {pad}-px shifts; " if recipe["name"] == "fine-tune" else
         f"- Fit: {log['epochs']} epochs of {recipe['examples_per_epoch']} examples drawn from the shuffled set, batch "
         f"{recipe['batch_size']}, SGD (Nesterov {recipe['momentum']}, weight decay {recipe['weight_decay']}) with a "
         f"triangular rate peaking at {recipe['learning_rate']} after the first epoch, label smoothing "
         f"{recipe['label_smoothing']}, the weights' moving average ({recipe['ema_momentum']}) exported, flips and "
         f"{pad}-px shifts; ")
        + (f"half the examples first a random part of themselves ({log['resized_crops']['area'][0]:.0%}-"
           f"{log['resized_crops']['area'][1]:.0%} of the area, width over height {log['resized_crops']['aspect'][0]}-"
           f"{log['resized_crops']['aspect'][1]}) squeezed to {side}x{side}; " if log.get("resized_crops") else "")
        + f"background weighted to {log['background_share']:.0%} of the total; "
        f"final loss {last['loss']:.3f}, weighted accuracy {last['weighted_accuracy']:.2%}; "
        f"{log['seconds'] / 60:.1f} min on this machine",
        f"- Models: `{float_name}` ({log['exported'][float_name] / 1e6:.2f} MB), `{int8_name}` (full integer, "
        f"{log['exported'][int8_name] / 1e6:.2f} MB, calibrated on 1000 of the crops)",
        "- Score threshold per proposal method (`box_calibration.json`): the least that keeps false boxes at or under "
        f"{calibration['target_false_boxes_per_frame']} per frame on {calibration['scenes']} scenes of training images "
        "over the photos held out from fitting (scenes.CALIBRATION_BACKGROUNDS, WALLPAPERS['calibrate'] and "
        "stereo_motorcycle): "
        + ", ".join(f"{method} {score} (recall there {calibration['recall_at_min_score'][method]})"
                    for method, score in calibration["min_score"].items()),
        "",
        "Measured on held-out scenes: `streamsee evaluate --scenes 200` (figures in docs/experiments.md).",
        "",
    ]
    (out / "MODEL_CARD.md").write_text("\n".join(lines))
