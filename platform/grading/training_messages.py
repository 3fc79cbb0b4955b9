"""Bilingual templates of the training checks (held-out accuracy, model structure, loss
curve); merged into ``grading.messages.TEMPLATES`` so ``render`` finds them."""

from __future__ import annotations

TRAINING_TEMPLATES: dict[tuple[str, str], dict[str, str]] = {
    ("heldout-accuracy", "low"): {
        "en": "Your model classifies {accuracy} of {count} held-out examples correctly; at "
        "least {wanted} is expected. These examples were never part of your run: train "
        "longer, with a suitable learning rate, or check the model.",
        "zh-hans": "你的模型在 {count} 个留出样本上的准确率为 {accuracy}，至少应为 {wanted}。"
        "这些样本从未出现在你的运行中：请训练更久、选用合适的学习率，或检查模型。",
    },
    ("heldout-accuracy", "shape"): {
        "en": "On the {rows} held-out examples your model gives {actual}, but one row of "
        "class scores per example, shape ({rows}, number of classes), is expected.",
        "zh-hans": "在 {rows} 个留出样本上，你的模型输出 {actual}，但应为每个样本一行类别得分，"
        "形状为 ({rows}, 类别数)。",
    },
    ("heldout-accuracy", "error"): {
        "en": "Your model could not be evaluated on the held-out examples (inputs of shape "
        "{shape}): {detail}.",
        "zh-hans": "无法在留出样本（输入形状为 {shape}）上评估你的模型：{detail}。",
    },
    ("model-unsupported", "layer"): {
        "en": "`{name}` cannot be rebuilt by the grader: layer `{layer}` is a `{cls}`, which "
        "is not supported. Build the model from standard layers (nn.Linear, nn.ReLU, "
        "nn.Flatten, nn.Dropout, nn.Sequential, nn.Softmax, nn.Sigmoid, nn.Tanh).",
        "zh-hans": "评分系统无法重建 `{name}`：层 `{layer}` 是 `{cls}`，不受支持。请用标准层"
        "（nn.Linear、nn.ReLU、nn.Flatten、nn.Dropout、nn.Sequential、nn.Softmax、nn.Sigmoid、"
        "nn.Tanh）构建模型。",
    },
    ("model-unsupported", "own-parameters"): {
        "en": "`{name}` cannot be rebuilt by the grader: `{layer}` holds its own parameters "
        "({detail}). Put them in standard layers such as nn.Linear.",
        "zh-hans": "评分系统无法重建 `{name}`：`{layer}` 直接持有参数（{detail}）。"
        "请把参数放进 nn.Linear 等标准层中。",
    },
    ("model-unsupported", "hyperparameter"): {
        "en": "`{name}` cannot be rebuilt by the grader: layer `{layer}` ({cls}) has the "
        "setting `{detail}`, which is not supported.",
        "zh-hans": "评分系统无法重建 `{name}`：层 `{layer}`（{cls}）的设置 `{detail}` 不受支持。",
    },
    ("model-unsupported", "not-module"): {
        "en": "`{name}` is {a_actual_type} but should be a model (an nn.Module).",
        "zh-hans": "`{name}` 的类型是 {actual_type}，应为模型（nn.Module）。",
    },
    ("model-unsupported", ""): {
        "en": "`{name}` cannot be rebuilt by the grader ({detail}).",
        "zh-hans": "评分系统无法重建 `{name}`（{detail}）。",
    },
    ("structure-mismatch", "changed"): {
        "en": "Layer {index} of `{name}` is `{layer}` but should be `{should}`.",
        "zh-hans": "`{name}` 的第 {index} 层是 `{layer}`，应为 `{should}`。",
    },
    ("structure-mismatch", "missing"): {
        "en": "{layer} missing between `{before}` and `{after}` in `{name}`: without it the "
        "layers collapse into one linear map.",
        "zh-hans": "`{name}` 中 `{before}` 和 `{after}` 之间缺少 {layer}：没有它，这些层会退化为"
        "一个线性映射。",
    },
    ("structure-mismatch", "missing-end"): {
        "en": "`{name}` lacks layer {index}, `{layer}`.",
        "zh-hans": "`{name}` 缺少第 {index} 层 `{layer}`。",
    },
    ("structure-mismatch", "extra"): {
        "en": "Layer {index} of `{name}`, `{layer}`, is not expected.",
        "zh-hans": "`{name}` 的第 {index} 层 `{layer}` 是多余的。",
    },
    ("structure-mismatch", "layers"): {
        "en": "Layer {index} of `{name}` is `{layer}` but should be `{should}`. The layers "
        "are {layers} but should be {wanted}.",
        "zh-hans": "`{name}` 的第 {index} 层是 `{layer}`，应为 `{should}`。各层是 {layers}，"
        "应为 {wanted}。",
    },
    ("structure-mismatch", "params"): {
        "en": "`{name}` has {count} parameters but should have {wanted}.",
        "zh-hans": "`{name}` 有 {count} 个参数，应为 {wanted} 个。",
    },
    ("loss-curve", "type"): {
        "en": "`{name}` is {a_actual_type} but should be a list of the losses, one number "
        "per epoch (e.g. `losses.append(loss.item())`).",
        "zh-hans": "`{name}` 的类型是 {actual_type}，应为损失的列表，每个迭代周期一个数"
        "（例如 `losses.append(loss.item())`）。",
    },
    ("loss-curve", "short"): {
        "en": "`{name}` holds {count} loss(es): record the loss of every epoch (at least 2).",
        "zh-hans": "`{name}` 只有 {count} 个损失值：请记录每个迭代周期的损失（至少 2 个）。",
    },
    ("loss-curve", "nan"): {
        "en": "The loss in `{name}` is `{value}` at epoch {epoch}: training diverged. The "
        "learning rate is most likely too high; lower it.",
        "zh-hans": "`{name}` 中第 {epoch} 个迭代周期的损失是 `{value}`：训练发散了。"
        "很可能是学习率太大，请调小它。",
    },
    ("loss-curve", "flat"): {
        "en": "The loss in `{name}` did not move ({first} for {count} epochs): the parameters "
        "are not being updated. Check that you call `optimizer.step()` (and "
        "`optimizer.zero_grad()`) in every iteration and that the learning rate is not 0.",
        "zh-hans": "`{name}` 中的损失没有变化（{count} 个迭代周期都是 {first}）：参数没有被更新。"
        "请检查每次迭代是否调用了 `optimizer.step()`（以及 `optimizer.zero_grad()`），"
        "并确认学习率不为 0。",
    },
    ("loss-curve", "up"): {
        "en": "The loss in `{name}` went up, from {first} to {last}: check the sign of the "
        "update, `zero_grad()` before each `backward()`, and the learning rate.",
        "zh-hans": "`{name}` 中的损失上升了，从 {first} 变为 {last}：请检查更新的符号、"
        "每次 `backward()` 之前的 `zero_grad()`，以及学习率。",
    },
    ("loss-curve", "high"): {
        "en": "The last loss in `{name}` is {last}, above {below}: train for more epochs or "
        "with a better learning rate.",
        "zh-hans": "`{name}` 中最后的损失是 {last}，高于 {below}：请训练更多迭代周期，或换一个"
        "更合适的学习率。",
    },
    ("model-mode", "eval"): {
        "en": "`{name}` is still in training mode: call `{name}.eval()` before evaluating; "
        "dropout stays active otherwise (it keeps zeroing activations at random and the "
        "predictions change from one call to the next).",
        "zh-hans": "`{name}` 仍处于训练模式：评估之前请调用 `{name}.eval()`；否则暂退法"
        "（dropout）仍然生效（它继续随机地把激活值置零，每次调用的预测结果都不同）。",
    },
    ("model-mode", "eval-layer"): {
        "en": "`{name}` is in evaluation mode, but its layer `{layer}` ({cls}) is still in "
        "training mode: call `{name}.eval()` on the whole model (it sets every layer; "
        "`{name}.training = False` changes the model's flag only).",
        "zh-hans": "`{name}` 处于评估模式，但它的层 `{layer}`（{cls}）仍处于训练模式："
        "请对整个模型调用 `{name}.eval()`（它会设置每一层；`{name}.training = False` "
        "只改变模型自身的标志）。",
    },
    ("model-mode", "train"): {
        "en": "`{name}` is in evaluation mode, but training mode is expected here: call "
        "`{name}.train()` before training (in evaluation mode dropout does nothing).",
        "zh-hans": "`{name}` 处于评估模式，但这里应处于训练模式：训练之前请调用 "
        "`{name}.train()`（在评估模式下暂退法不起作用）。",
    },
    ("model-mode", "train-layer"): {
        "en": "`{name}` is in training mode, but its layer `{layer}` ({cls}) is in "
        "evaluation mode: call `{name}.train()` on the whole model.",
        "zh-hans": "`{name}` 处于训练模式，但它的层 `{layer}`（{cls}）处于评估模式："
        "请对整个模型调用 `{name}.train()`。",
    },
    ("model-mode", "not-module"): {
        "en": "`{name}` is {a_actual_type} but should be a model (an nn.Module).",
        "zh-hans": "`{name}` 的类型是 {actual_type}，应为模型（nn.Module）。",
    },
}

TRAINING_HIDDEN_WHAT: dict[str, dict[str, str]] = {
    "heldout-accuracy": {"en": "the accuracy on held-out data is too low",
                         "zh-hans": "在留出数据上的准确率太低"},
    "model-unsupported": {"en": "the model cannot be rebuilt", "zh-hans": "模型无法重建"},
    "structure-mismatch": {"en": "the model's layers differ", "zh-hans": "模型的层不对"},
    "loss-curve": {"en": "the loss curve is wrong", "zh-hans": "损失曲线不对"},
    "model-mode": {"en": "the model is in the wrong mode (train/eval)",
                   "zh-hans": "模型所处的模式（训练/评估）不对"},
}  # fmt: skip
