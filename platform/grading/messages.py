"""Bilingual (English / Simplified Chinese) messages for every diagnostic.

``render(code, facts)`` picks the template for ``(code, facts["variant"])`` and fills it with
the facts a comparator or the error mapper found. Missing facts render as "?" rather than
failing: a message must never break a verdict.

Why this file is long: it is mostly data, every message template in two languages, kept in
one table so that a translator reads the English and the Chinese side by side.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

from grading.training_messages import TRAINING_HIDDEN_WHAT, TRAINING_TEMPLATES

LANGS = ("en", "zh-hans")

# (code, variant) -> {lang: template}. Variant "" is the default for a code.
TEMPLATES: dict[tuple[str, str], dict[str, str]] = {
    # ---- names and types
    ("missing-name", ""): {
        "en": "`{name}` is not defined: your cell must assign it.",
        "zh-hans": "`{name}` 未定义：请在代码中给它赋值。",
    },
    ("missing-name", "name"): {
        "en": "`{name}` is not defined: your cell must assign it.",
        "zh-hans": "`{name}` 未定义：请在代码中给它赋值。",
    },
    ("missing-name", "attribute"): {
        "en": "`{name}` could not be read ({detail}).",
        "zh-hans": "无法读取 `{name}`（{detail}）。",
    },
    ("missing-name", "parent-none"): {
        "en": "`{name}` cannot be read while `{parent}` is None (see the check of `{parent}`).",
        "zh-hans": "`{parent}` 是 None，因此无法读取 `{name}`（见 `{parent}` 的检查）。",
    },
    ("missing-name", "parameter"): {
        "en": "`{name}` lacks the parameter(s) {detail} (unexpected: {unexpected}).",
        "zh-hans": "`{name}` 缺少参数 {detail}（多出的参数：{unexpected}）。",
    },
    ("missing-name", "function"): {
        "en": "The function `{function}` is not defined: define it with `def {function}(...)`.",
        "zh-hans": "函数 `{function}` 未定义：请用 `def {function}(...)` 定义它。",
    },
    ("wrong-type", ""): {
        "en": "`{name}` is {a_actual_type} but should be {a_expected_type}.",
        "zh-hans": "`{name}` 的类型是 {actual_type}，应为 {expected_type}。",
    },
    ("wrong-type", "ndarray"): {
        "en": "`{name}` is a NumPy array but should be a tensor: convert it with "
        "torch.tensor(...) or torch.from_numpy(...).",
        "zh-hans": "`{name}` 是 NumPy 数组，应为张量：请用 torch.tensor(...) 或 "
        "torch.from_numpy(...) 转换。",
    },
    ("wrong-type", "list"): {
        "en": "`{name}` is a Python {actual_type} but should be a tensor: build it with "
        "torch.tensor(...).",
        "zh-hans": "`{name}` 是 Python {actual_type}，应为张量：请用 torch.tensor(...) 创建。",
    },
    ("wrong-type", "tensor"): {
        "en": "`{name}` is a tensor but should be a NumPy array: convert it with .numpy().",
        "zh-hans": "`{name}` 是张量，应为 NumPy 数组：请用 .numpy() 转换。",
    },
    ("wrong-type", "none"): {
        "en": "`{name}` is None but should be {a_expected_type}.",
        "zh-hans": "`{name}` 是 None，应为 {expected_type}。",
    },
    ("wrong-type", "one-element-tensor"): {
        "en": "`{name}` is a tensor of shape {actual_shape} but should be a Python number: "
        "use .item() (or float()/int()).",
        "zh-hans": "`{name}` 是形状为 {actual_shape} 的张量，应为 Python 数值："
        "请使用 .item()（或 float()/int()）。",
    },
    ("wrong-type", "layers"): {
        "en": "`{name}` has the layers [{actual_layers}] but should have [{expected_layers}].",
        "zh-hans": "`{name}` 的层是 [{actual_layers}]，应为 [{expected_layers}]。",
    },
    ("wrong-type", "not-callable"): {
        "en": "`{function}` is {a_actual_type}, not a function: define it with "
        "`def {function}(...)`.",
        "zh-hans": "`{function}` 是 {actual_type}，不是函数：请用 `def {function}(...)` 定义它。",
    },
    ("method-not-called", ""): {
        "en": "`{name}` is the {kind} `{callable_name}` itself, not its result: "
        "call it with parentheses: `{call}`.",
        "zh-hans": "`{name}` 是{kind} `{callable_name}` 本身，而不是它的结果："
        "请加上括号调用它：`{call}`。",
    },
    # ---- tensors
    ("shape-mismatch", ""): {
        "en": "`{name}` has shape {actual_shape} but should have shape {expected_shape}.",
        "zh-hans": "`{name}` 的形状是 {actual_shape}，应为 {expected_shape}。",
    },
    ("shape-mismatch", "number"): {
        "en": "`{name}` has shape {actual_shape} but should be a single number (shape ()): "
        "reduce over all elements.",
        "zh-hans": "`{name}` 的形状是 {actual_shape}，应为单个数值（形状 ()）：请对所有元素求值。",
    },
    ("silent-broadcast", ""): {
        "en": "`{name}` has shape {actual_shape} but should have shape {expected_shape}. "
        "`{expr}` (line {line}) probably combined a ({n}, 1) tensor with a ({n},) one: "
        "broadcasting turns that into ({n}, {n}), every element of one side against every "
        "element of the other, and raises no error. Give both sides the same shape first, "
        "e.g. `{fix}`.",
        "zh-hans": "`{name}` 的形状是 {actual_shape}，应为 {expected_shape}。第 {line} 行的 "
        "`{expr}` 很可能把形状为 ({n}, 1) 的张量和形状为 ({n},) 的张量放在了一起运算："
        "广播机制会把它们扩展成 ({n}, {n})，一边的每个元素都与另一边的每个元素运算，"
        "而且不会报错。请先让两边的形状相同，例如 `{fix}`。",
    },
    ("dtype-mismatch", ""): {
        "en": "`{name}` has dtype {actual_dtype} but should have dtype {expected_dtype}.",
        "zh-hans": "`{name}` 的数据类型是 {actual_dtype}，应为 {expected_dtype}。",
    },
    ("dtype-mismatch", "column"): {
        "en": "Column `{column}` of `{name}` has dtype {actual_dtype} but should have dtype "
        "{expected_dtype}.",
        "zh-hans": "`{name}` 的列 `{column}` 的数据类型是 {actual_dtype}，应为 {expected_dtype}。",
    },
    ("device-mismatch", ""): {
        "en": "`{name}` is on device {actual_device} but should be on {expected_device}: "
        "move it with .to(device).",
        "zh-hans": "`{name}` 位于设备 {actual_device}，应位于 {expected_device}：请用 .to(device) 移动。",  # noqa: E501
    },
    ("wrong-value", ""): {
        "en": "`{name}` is {actual} but should be {expected}: first difference at index "
        "{index} ({actual_at} instead of {expected_at}); {mismatched} of {total} elements "
        "differ, max abs error {max_abs_err}.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}：第一个不同之处在索引 {index}"
        "（{actual_at}，应为 {expected_at}）；{total} 个元素中有 {mismatched} 个不同，"
        "最大绝对误差 {max_abs_err}。",
    },
    ("wrong-value", "number"): {
        "en": "`{name}` is {actual} but should be {expected}.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}。",
    },
    ("wrong-value", "str"): {
        "en": "`{name}` is {actual} but should be {expected}.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}。",
    },
    ("wrong-value", "repr"): {
        "en": "`{name}` is {actual} but should be {expected}.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}。",
    },
    ("wrong-value", "length"): {
        "en": "`{name}` has {actual_len} items ({actual}) but should have {expected_len} "
        "({expected}).",
        "zh-hans": "`{name}` 有 {actual_len} 个元素（{actual}），应有 {expected_len} 个（{expected}）。",  # noqa: E501
    },
    ("wrong-value", "keys"): {
        "en": "`{name}` lacks the keys {missing} (unexpected keys: {unexpected}).",
        "zh-hans": "`{name}` 缺少键 {missing}（多出的键：{unexpected}）。",
    },
    ("wrong-value", "element"): {
        "en": "`{name}` differs first at index {index}: {actual_at} instead of {expected_at}.",
        "zh-hans": "`{name}` 第一个不同之处在索引 {index}：{actual_at}，应为 {expected_at}。",
    },
    ("wrong-value", "should-be-none"): {
        "en": "`{name}` should be None but is {actual}.",
        "zh-hans": "`{name}` 应为 None，但它是 {actual}。",
    },
    ("wrong-value", "constant"): {
        "en": "`{name}` holds the same value {value} everywhere, but it should be drawn at random.",
        "zh-hans": "`{name}` 的所有元素都是同一个值 {value}，但它应当是随机抽取的。",
    },
    ("wrong-value", "requires-grad"): {
        "en": "`{name}` has the right values but still requires grad, so it is still part of "
        "the autograd graph: take it out with .detach().",
        "zh-hans": "`{name}` 的值正确，但它仍然 requires_grad，仍在计算图中："
        "请用 .detach() 将它分离出来。",
    },
    ("wrong-value", "nan-rows"): {
        "en": "Column `{column}` of `{name}` holds NaN in rows {actual_rows} but should hold "
        "NaN in rows {expected_rows}.",
        "zh-hans": "`{name}` 的列 `{column}` 在第 {actual_rows} 行为 NaN，应在第 {expected_rows} 行为 NaN。",  # noqa: E501
    },
    ("wrong-value", "nan-none"): {
        "en": "Column `{column}` of `{name}` holds no NaN but should hold NaN in rows "
        "{expected_rows}.",
        "zh-hans": "`{name}` 的列 `{column}` 中没有 NaN，但应在第 {expected_rows} 行为 NaN。",
    },
    ("wrong-value", "nan-left"): {
        "en": "Column `{column}` of `{name}` still holds NaN in rows {actual_rows}; it should "
        "hold none (fill the missing values).",
        "zh-hans": "`{name}` 的列 `{column}` 在第 {actual_rows} 行仍有 NaN，不应再有 NaN"
        "（请填充缺失值）。",
    },
    ("wrong-value", "scalar"): {
        "en": "`{name}` is {actual} but should be {expected} (abs error {max_abs_err}).",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}（绝对误差 {max_abs_err}）。",
    },
    ("wrong-value", "column"): {
        "en": "Column `{column}` of `{name}` differs first at row {row}: {actual_at} instead "
        "of {expected_at} (max abs error {max_abs_err}).",
        "zh-hans": "`{name}` 的列 `{column}` 第一个不同之处在第 {row} 行：{actual_at}，"
        "应为 {expected_at}（最大绝对误差 {max_abs_err}）。",
    },
    ("wrong-value", "index"): {
        "en": "The index (row labels) of `{name}` differs first at row {row}: {actual_at} "
        "instead of {expected_at}.",
        "zh-hans": "`{name}` 的索引（行标签）第一个不同之处在第 {row} 行：{actual_at}，应为 {expected_at}。",  # noqa: E501
    },
    ("wrong-value", "parameter"): {
        "en": "`{name}` has the right shape but other values ({actual} instead of "
        "{expected}). A new layer draws its parameters from the random generator, which "
        "the setup seeded with `torch.manual_seed({seed})`: create the layers right away, "
        "in the order the exercise asks, and draw no other random numbers before them (no "
        "`torch.rand`, no layer created and thrown away).",
        "zh-hans": "`{name}` 的形状正确，但数值不同（是 {actual}，应为 {expected}）。新建的层从"
        "随机数生成器中抽取参数，而预置代码已经用 `torch.manual_seed({seed})` 设置了种子："
        "请直接按练习要求的顺序创建各层，并且在此之前不要抽取其他随机数"
        "（不要调用 `torch.rand`，也不要创建用不到的层）。",
    },
    ("wrong-value", "too-large"): {
        "en": "`{name}` is too large to be compared.",
        "zh-hans": "`{name}` 太大，无法比较。",
    },
    ("wrong-value", "assert"): {
        "en": "`{name}` does not hold: {detail}.",
        "zh-hans": "条件 `{name}` 不成立：{detail}。",
    },
    ("missing-column", "missing"): {
        "en": "`{name}` lacks the column(s) {missing}. Its columns are [{actual_columns}] but "
        "should be [{expected_columns}].",
        "zh-hans": "`{name}` 缺少列 {missing}。它的列是 [{actual_columns}]，"
        "应为 [{expected_columns}]。",
    },
    ("missing-column", "unexpected"): {
        "en": "`{name}` has unexpected column(s) {unexpected}. Its columns are "
        "[{actual_columns}] but should be [{expected_columns}].",
        "zh-hans": "`{name}` 多出了列 {unexpected}。它的列是 [{actual_columns}]，"
        "应为 [{expected_columns}]。",
    },
    # ---- memory
    ("not-in-place", ""): {
        "en": "`{name}` now lives in new memory: the result went to a new tensor instead of "
        "the existing one. Write into it in place: `{name}[:] = ...`, `{name} += ...` or "
        "`torch.add(..., out={name})`.",
        "zh-hans": "`{name}` 现在位于新的内存中：结果被写入了一个新张量，而不是原有的张量。"
        "请原地写入：`{name}[:] = ...`、`{name} += ...` 或 `torch.add(..., out={name})`。",
    },
    ("shares-memory", ""): {
        "en": "`{name}` shares memory with `{other}`: it is the same data, not a copy, so "
        "changing one changes the other. Make a copy with `{other}.clone()`.",
        "zh-hans": "`{name}` 与 `{other}` 共享内存：它们是同一份数据而不是副本，修改一个会影响另一个。"  # noqa: E501
        "请用 `{other}.clone()` 复制。",
    },
    # ---- autograd
    ("grad-missing", ""): {
        "en": "`{name}` is None: no gradient was computed. Call .backward() on the result "
        "(and create `{base}` with requires_grad=True).",
        "zh-hans": "`{name}` 是 None：没有计算梯度。请对结果调用 .backward()"
        "（并在创建 `{base}` 时设置 requires_grad=True）。",
    },
    ("grad-accumulated", "times"): {
        "en": "`{name}` is {actual} but should be {expected}: it is {times} times the "
        "expected gradient, because backward ran {times} times and gradients add up. Run "
        "backward once, or clear the gradient with `{base}.grad.zero_()` in between.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}：它是正确梯度的 {times} 倍，"
        "因为 backward 运行了 {times} 次，梯度会累加。请只运行一次 backward，"
        "或在两次之间用 `{base}.grad.zero_()` 清零。",
    },
    ("grad-accumulated", "plus-earlier"): {
        "en": "`{name}` is {actual} but should be {expected}: it still holds the gradient "
        "from the earlier backward ({earlier}), because gradients add up. Clear it with "
        "`{base}.grad.zero_()` before calling backward.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}：它仍然包含之前 backward 留下的梯度"
        "（{earlier}），因为梯度会累加。请在调用 backward 之前用 `{base}.grad.zero_()` 清零。",
    },
    ("grad-accumulated", "times-plus-earlier"): {
        "en": "`{name}` is {actual} but should be {expected}: it is {times} times the "
        "expected gradient plus the earlier one ({earlier}). Clear it with "
        "`{base}.grad.zero_()` and run backward once.",
        "zh-hans": "`{name}` 是 {actual}，应为 {expected}：它是正确梯度的 {times} 倍再加上之前的梯度"  # noqa: E501
        "（{earlier}）。请用 `{base}.grad.zero_()` 清零，并只运行一次 backward。",
    },
    ("grad-not-from-backward", "replaced"): {
        "en": "`{name}` was changed after the last backward pass (assigned or edited by "
        "hand): it must hold the gradient autograd computed. Call backward and leave "
        "`{name}` as it is.",
        "zh-hans": "`{name}` 在最后一次反向传播之后被改动了（手动赋值或修改）：它必须保存自动微分"
        "计算出的梯度。请调用 backward，之后不要再改动 `{name}`。",
    },
    ("grad-not-from-backward", "no-backward"): {
        "en": "`{name}` was not computed by a backward pass in your code: a gradient "
        "assigned by hand does not count. Compute the result from `{base}` and call "
        "`.backward()` on it.",
        "zh-hans": "`{name}` 不是由你代码中的反向传播计算出来的：手动赋值的梯度不算数。"
        "请用 `{base}` 计算结果，并对结果调用 `.backward()`。",
    },
    ("not-trained", "no-backward"): {
        "en": "`{name}` was not trained: no backward pass in your code computed its "
        "gradient. Train it by gradient descent: compute the loss, call backward(), "
        "update `{name}`, and repeat (at least {required} steps).",
        "zh-hans": "`{name}` 没有经过训练：你的代码中没有任何一次反向传播计算了它的梯度。"
        "请用梯度下降训练它：计算损失、调用 backward()、更新 `{name}`，并重复"
        "（至少 {required} 步）。",
    },
    ("not-trained", "steps"): {
        "en": "Only {steps} backward pass(es) computed the gradient of `{name}`, but at "
        "least {required} training steps are expected: train for more steps.",
        "zh-hans": "只有 {steps} 次反向传播计算了 `{name}` 的梯度，但至少需要 {required} "
        "个训练步骤：请多训练几步。",
    },
    ("not-trained", "updates"): {
        "en": "backward computed the gradient of `{name}` {steps} times, but `{name}` "
        "changed after only {updates} of them: update it after every backward pass "
        "(`{name} -= lr * {name}.grad` under `torch.no_grad()`, or an optimizer's "
        "`step()`).",
        "zh-hans": "backward 计算了 {steps} 次 `{name}` 的梯度，但 `{name}` 只在其中 "
        "{updates} 次之后发生了变化：请在每次反向传播之后更新它（在 `torch.no_grad()` 中"
        "执行 `{name} -= lr * {name}.grad`，或调用优化器的 `step()`）。",
    },
    ("not-trained", "moved"): {
        "en": "`{name}` ended only {share} of its size away from where it was at the first "
        "backward pass ({wanted} expected): start from the initial values the exercise "
        "gives and let gradient descent do the work; an answer copied or solved for does "
        "not count as training.",
        "zh-hans": "`{name}` 最终与第一次反向传播时的值只相差其大小的 {share}（至少应为 "
        "{wanted}）：请从练习给出的初始值开始，让梯度下降完成训练；复制或直接解出的答案不算训练。",
    },
    ("xor-operator", ""): {
        "en": "Line {line}: `^` is bitwise XOR in Python and PyTorch, not a power: use "
        "`**` (`x ** y`) or `torch.pow(x, y)`.",
        "zh-hans": "第 {line} 行：在 Python 和 PyTorch 中 `^` 是按位异或，而不是乘方："
        "请使用 `**`（`x ** y`）或 `torch.pow(x, y)`。",
    },
    # ---- errors raised by the student's code
    ("grad-missing", "error"): {
        "en": "Line {line}: backward() found nothing to differentiate: the result does not "
        "depend on any tensor created with requires_grad=True. Create the input with "
        "requires_grad=True (e.g. `torch.arange(4.0, requires_grad=True)`), or call "
        "`x.requires_grad_()` before computing.",
        "zh-hans": "第 {line} 行：backward() 找不到可以求导的对象：结果不依赖于任何设置了 "
        "requires_grad=True 的张量。请在创建输入时设置 requires_grad=True"
        "（例如 `torch.arange(4.0, requires_grad=True)`），或在计算之前调用 `x.requires_grad_()`。",
    },
    ("grad-accumulated", "error"): {
        "en": "Line {line}: backward ran a second time over the same graph. Run backward "
        "once: even with retain_graph=True a second backward would add its gradient to the "
        "first one in `.grad` (gradients accumulate), unless you clear it with "
        "`x.grad.zero_()` in between.",
        "zh-hans": "第 {line} 行：在同一个计算图上第二次运行了 backward。请只运行一次 backward："
        "即使设置 retain_graph=True，第二次 backward 也会把梯度累加到 `.grad` 中"
        "（梯度会累加），除非在两次之间用 `x.grad.zero_()` 清零。",
    },
    ("broadcast-shape", ""): {
        "en": "Line {line}: {operands}cannot be broadcast together. Broadcasting lines the "
        "shapes up from the right{alignment}; at dimension {dim} the sizes are {size_a} and "
        "{size_b}, and one of them would have to be 1.{tip}",
        "zh-hans": "第 {line} 行：{operands}无法广播。广播从最右边的维度开始对齐形状{alignment}；"
        "在第 {dim} 维上大小分别是 {size_a} 和 {size_b}，其中之一必须为 1。{tip}",
    },
    ("name-error", ""): {
        "en": "Line {line}: the name `{missing}` is not defined.{suggest}",
        "zh-hans": "第 {line} 行：名称 `{missing}` 未定义。{suggest}",
    },
    ("attribute-error", ""): {
        "en": "Line {line}: {obj_type} has no attribute `{missing}`.{suggest}",
        "zh-hans": "第 {line} 行：{obj_type} 没有属性 `{missing}`。{suggest}",
    },
    ("syntax-error", ""): {
        "en": "Line {line}: syntax error: {msg}.{text}",
        "zh-hans": "第 {line} 行：语法错误：{msg}。{text}",
    },
    ("item-multi-element", ""): {
        "en": "Line {line}: .item(), float() and int() need a tensor with exactly one "
        "element, but this tensor has more{count}. Pick one element first (t[0]) or reduce "
        "it (t.sum()).",
        "zh-hans": "第 {line} 行：.item()、float() 和 int() 只能用于只有一个元素的张量，"
        "但这个张量有{count_zh}个元素。请先取出一个元素（t[0]）或先归约（t.sum()）。",
    },
    ("nonscalar-backward", ""): {
        "en": "Line {line}: backward() without an argument only works on a scalar (a "
        "one-element result), and this result has several elements. Reduce it first, "
        "e.g. `y.sum().backward()`, or pass a gradient: `y.backward(torch.ones_like(y))`.",
        "zh-hans": "第 {line} 行：不带参数的 backward() 只能用于标量（只有一个元素的结果），"
        "而这个结果有多个元素。请先归约，例如 `y.sum().backward()`，"
        "或传入梯度：`y.backward(torch.ones_like(y))`。",
    },
    ("pandas-nonnumeric-mean", ""): {
        "en": "Line {line}: the frame has a non-numeric column (text such as 'Pave'), and "
        "since pandas 2 mean() and friends no longer skip such columns. Use "
        "`inputs.mean(numeric_only=True)`, e.g. `inputs.fillna(inputs.mean(numeric_only=True))`.",
        "zh-hans": "第 {line} 行：数据框中有非数值列（例如文本 'Pave'），从 pandas 2 起 mean() "
        "等函数不再自动跳过这些列。请使用 `inputs.mean(numeric_only=True)`，"
        "例如 `inputs.fillna(inputs.mean(numeric_only=True))`。",
    },
    ("object-array-to-tensor", ""): {
        "en": "Line {line}: torch.tensor cannot convert a NumPy array of dtype object, which "
        "is what .values gives for a frame with mixed column types (such as the bool columns "
        "from get_dummies). Convert to numbers first: "
        "`torch.tensor(inputs.to_numpy(dtype=float))`.",
        "zh-hans": "第 {line} 行：torch.tensor 无法转换 dtype 为 object 的 NumPy 数组；"
        "当数据框的列类型不一致时（例如 get_dummies 生成的 bool 列），.values 得到的就是这种数组。"
        "请先转换为数值：`torch.tensor(inputs.to_numpy(dtype=float))`。",
    },
    ("device-mismatch", "error"): {
        "en": "Line {line}: the tensors in this operation are on different devices. Move "
        "them to one device with .to(device) first. ({message})",
        "zh-hans": "第 {line} 行：这个运算中的张量位于不同的设备上。请先用 .to(device) "
        "把它们移到同一设备。（{message}）",
    },
    ("dtype-mismatch", "error"): {
        "en": "Line {line}: the operation mixes dtypes. Convert one operand with .float() or "
        ".to(dtype) first. ({message})",
        "zh-hans": "第 {line} 行：这个运算混用了不同的数据类型。请先用 .float() 或 .to(dtype) "
        "转换其中一个操作数。（{message}）",
    },
    ("shape-mismatch", "error"): {
        "en": "Line {line}: the shapes do not fit this operation{operand_shapes}. ({message})",
        "zh-hans": "第 {line} 行：形状不符合这个运算的要求{operand_shapes}。（{message}）",
    },
    ("forbidden-call", ""): {
        "en": "Line {line}: `{call}` is not allowed in this exercise: the point is to write "
        "it yourself from basic operations.",
        "zh-hans": "第 {line} 行：本练习不允许使用 `{call}`：练习的目的是用基本运算自己实现它。",
    },
    ("forbidden-call", "check"): {
        "en": "Not graded: the code uses `{call}`, which this exercise does not allow.",
        "zh-hans": "未评分：代码使用了本练习不允许的 `{call}`。",
    },
    # ---- generic
    ("error", ""): {
        "en": "Line {line}: {type}: {message}",
        "zh-hans": "第 {line} 行：{type}：{message}",
    },
    ("error", "call"): {
        "en": "`{name}` raised {type}: {message}",
        "zh-hans": "`{name}` 引发了 {type}：{message}",
    },
    ("not-run", ""): {
        "en": "Not checked: the cell did not run to the end.",
        "zh-hans": "未检查：代码没有运行完。",
    },
    ("stopped", ""): {
        "en": "(Your code stopped with an error at line {line}.)",
        "zh-hans": "（代码在第 {line} 行出错后停止了。）",
    },
    # The score rule (grading.scoring): said on a verdict whose passed checks do not count.
    ("not-counted", ""): {
        "en": "Points count only when your code runs to the end without an error or a "
        "limit: {passed} of {total} checks were already right, but this attempt scores 0.",
        "zh-hans": "只有代码完整运行结束（没有出错、没有超出限制）时才计分：已有 {passed} / "
        "{total} 项检查正确，但这次提交得 0 分。",
    },
    ("passed", ""): {"en": "`{name}` is correct.", "zh-hans": "`{name}` 正确。"},
}

# Hidden checks: inputs and expected values are never shown, only what kind of mistake.
HIDDEN: dict[str, dict[str, str]] = {
    "shape-mismatch": {
        "en": "`{name}` (hidden input): the result has the wrong shape.",
        "zh-hans": "`{name}`（隐藏输入）：结果的形状不对。",
    },
    "dtype-mismatch": {
        "en": "`{name}` (hidden input): the result has the wrong dtype.",
        "zh-hans": "`{name}`（隐藏输入）：结果的数据类型不对。",
    },
    "wrong-value": {
        "en": "`{name}` (hidden input): the result has wrong values.",
        "zh-hans": "`{name}`（隐藏输入）：结果的数值不对。",
    },
    "": {
        "en": "`{name}` (hidden input): the result is not right ({what}).",
        "zh-hans": "`{name}`（隐藏输入）：结果不正确（{what}）。",
    },
    "error": {
        "en": "`{name}` (hidden input) raised {type} (line {line} of your cell).",
        "zh-hans": "`{name}`（隐藏输入）引发了 {type}（代码第 {line} 行）。",
    },
}

# What a hidden check's failure was about, in words (never the raw code in a sentence).
HIDDEN_WHAT: dict[str, dict[str, str]] = {
    "missing-name": {"en": "a name is not defined", "zh-hans": "有名称未定义"},
    "wrong-type": {"en": "the wrong type", "zh-hans": "类型不对"},
    "method-not-called": {"en": "a method that was not called", "zh-hans": "方法没有被调用"},
    "device-mismatch": {"en": "the wrong device", "zh-hans": "设备不对"},
    "not-in-place": {"en": "not updated in place", "zh-hans": "没有原地更新"},
    "shares-memory": {"en": "it shares memory instead of copying", "zh-hans": "共享内存而不是复制"},
    "grad-missing": {"en": "no gradient was computed", "zh-hans": "没有计算梯度"},
    "grad-accumulated": {"en": "gradients added up", "zh-hans": "梯度被累加了"},
    "grad-not-from-backward": {
        "en": "the gradient did not come from backward",
        "zh-hans": "梯度不是由反向传播得到的",
    },
    "not-trained": {"en": "it was not trained", "zh-hans": "没有经过训练"},
    "missing-column": {"en": "a column is missing or extra", "zh-hans": "缺少或多出了列"},
    "forbidden-call": {"en": "a forbidden call", "zh-hans": "使用了不允许的函数"},
    "silent-broadcast": {"en": "a silent broadcast", "zh-hans": "发生了隐式广播"},
}
_WHAT_DEFAULT = {"en": "see the lesson", "zh-hans": "请参阅课程内容"}
# The training checks' templates live in their own table (grading/training_messages.py).
TEMPLATES.update(TRAINING_TEMPLATES)
HIDDEN_WHAT.update(TRAINING_HIDDEN_WHAT)

# Short notes appended to a message when a fact calls for it.
NOTES: dict[str, dict[str, str]] = {
    "keepdim": {
        "en": " Tip: the mismatch comes from a reduction; keep the reduced axis with "
        "keepdim=True (e.g. `A.sum(axis=1, keepdim=True)`).",
        "zh-hans": "提示：形状不匹配来自归约运算；求和时用 keepdim=True 保留该维度"
        "（例如 `A.sum(axis=1, keepdim=True)`）。",
    },
    "index-pairing": {
        "en": " `{subscript}` takes every index in `{index}` for every row, an "
        "all-against-all result. Index tensors in several positions pair up element by "
        "element instead: `{fix}` takes one element per row.",
        "zh-hans": "`{subscript}` 会对每一行取出 `{index}` 中的所有索引，得到两两组合的结果。"
        "而在多个位置上使用索引张量时，它们会逐元素配对：`{fix}` 每行只取一个元素。",
    },
    "chained-inplace": {
        "en": " `{target}.fillna(..., inplace=True)` (or any inplace=True method on a selected "
        "column) changes a copy under pandas' Copy-on-Write (the default from pandas 3), so "
        "the frame is left as it was: assign the result instead, "
        "`{target} = {target}.fillna(...)`.",
        "zh-hans": "在 pandas 的写时复制（pandas 3 起默认启用）下，`{target}.fillna(..., "
        "inplace=True)`（以及对选出的列调用任何 inplace=True 的方法）修改的是副本，数据框保持不变："
        "请改为赋值，`{target} = {target}.fillna(...)`。",
    },
    "xor": {
        "en": " Your code uses `^`, which is bitwise XOR, not a power: use `**`.",
        "zh-hans": "你的代码使用了 `^`，它是按位异或而不是乘方：请使用 `**`。",
    },
    "detach": {
        "en": " It still requires grad: if it should be a constant, use .detach().",
        "zh-hans": " 它仍然 requires_grad：如果它应当是常量，请使用 .detach()。",
    },
    "suggest": {"en": " Did you mean `{suggestion}`?", "zh-hans": "你是不是想写 `{suggestion}`？"},
    "unexpected-columns": {
        "en": " Unexpected column(s): {unexpected}.",
        "zh-hans": "多出的列：{unexpected}。",
    },
    "dummy-na": {
        "en": " A column for the missing values comes from get_dummies(..., dummy_na=True).",
        "zh-hans": "缺失值对应的列需要用 get_dummies(..., dummy_na=True) 生成。",
    },
}

KIND_NAMES = {
    "builtin": {"en": "method", "zh-hans": "方法"},
    "bound method": {"en": "method", "zh-hans": "方法"},
    "function": {"en": "function", "zh-hans": "函数"},
    "class": {"en": "class", "zh-hans": "类"},
    "callable": {"en": "callable", "zh-hans": "可调用对象"},
}


def _operands(facts: dict[str, Any], lang: str) -> str:
    if facts.get("left_shape"):
        if lang == "en":
            return fill(
                "`{left}` with shape {left_shape} and `{right}` with shape {right_shape} ", facts
            )
        return fill("形状为 {left_shape} 的 `{left}` 与形状为 {right_shape} 的 `{right}` ", facts)
    if facts.get("shapes"):
        return fill("the shapes {shapes} " if lang == "en" else "形状 {shapes} ", facts)
    return "these shapes " if lang == "en" else "这些形状"


def article(word: str) -> str:
    """``word`` with its English indefinite article: "an int", "an ndarray", "a tensor"."""
    sound = word.lower()
    vowel = sound[:1] in tuple("aeiou") and not sound.startswith(("uni", "use", "one"))
    if vowel or sound.startswith(("nd", "nn.")):  # "an ndarray", "an nn.Linear"
        return f"an {word}"
    return f"a {word}"


class _Facts(dict):
    def __missing__(self, key: str) -> str:
        return "?"


_FMT = string.Formatter()


def fill(template: str, facts: dict[str, Any]) -> str:
    return _FMT.vformat(template, (), _Facts({k: _s(v) for k, v in facts.items()}))


def _s(v: Any) -> str:
    return "?" if v is None else str(v)


def render(code: str, facts: dict[str, Any], *, hidden: bool = False) -> dict[str, str]:
    """Return ``{"en": ..., "zh-hans": ...}`` for a diagnostic (or "error"/"passed")."""
    variant = str(facts.get("variant", ""))
    out: dict[str, str] = {}
    if hidden and code != "passed":
        key = "error" if facts.get("kind") == "error" else code
        table = HIDDEN.get(key, HIDDEN[""])
        safe = {
            "name": facts.get("name"),
            "diagnostic": code,
            "type": facts.get("type"),
            "line": facts.get("line"),
        }
        what = HIDDEN_WHAT.get(code, _WHAT_DEFAULT)
        return {lang: fill(table[lang], {**safe, "what": what[lang]}) for lang in LANGS}
    table = TEMPLATES.get((code, variant)) or TEMPLATES.get((code, "")) or TEMPLATES[("error", "")]
    for lang in LANGS:
        local = dict(facts)
        if code == "method-not-called":
            kind = str(facts.get("kind") or variant)
            local["kind"] = KIND_NAMES.get(kind, KIND_NAMES["callable"])[lang]
            local.setdefault("call", f"{facts.get('callable_name') or 'f'}()")
        if code == "broadcast-shape":
            local["operands"] = _operands(facts, lang)
            local["tip"] = NOTES["keepdim"][lang] if facts.get("reduction") else ""
        for key in [k for k in facts if k.endswith("_type")]:
            local["a_" + key] = article(_s(facts[key])) if lang == "en" else _s(facts[key])
        if "suggestion" in facts and facts.get("suggestion"):
            local["suggest"] = fill(NOTES["suggest"][lang], facts)
        else:
            local.setdefault("suggest", "")
        text = fill(table[lang], local)
        if facts.get("requires_grad") is True and code == "wrong-value" and variant == "":
            text += NOTES["detach"][lang]
        if code == "missing-column" and variant == "missing":
            if facts.get("unexpected") not in (None, "", "-"):
                text += fill(NOTES["unexpected-columns"][lang], facts)
            if any(str(c).strip().endswith("_nan") for c in str(facts.get("missing")).split(",")):
                text += NOTES["dummy-na"][lang]
        out[lang] = text
    return out


# ---- how a sandbox run ended (RunReport.reason + RunReport.detail)

# reason -> {lang: template}. The facts are the sandbox's numbers, formatted per language by
# ``limit_message`` (never its English ``message``, so the Chinese text stays Chinese).
LIMITS: dict[str, dict[str, str]] = {
    "cpu_time": {
        "en": "Your code used more than {limit} s of CPU time and was stopped; look for a "
        "loop that never ends.",
        "zh-hans": "你的代码使用的 CPU 时间超过了 {limit} 秒，已被停止；检查是否有停不下来的循环。",
    },
    "wall_time": {
        "en": "Your code was still running after {limit} s and was stopped: an endless loop, "
        "or waiting on something (input(), time.sleep)?",
        "zh-hans": "你的代码运行了 {limit} 秒还没有结束，已被停止：是否有停不下来的循环，"
        "或者在等待什么（input()、time.sleep）？",
    },
    "memory": {
        "en": "Your code used more than {limit} of memory and was stopped; look for a tensor "
        "that is far too large (check its shape) or a list that keeps growing.",
        "zh-hans": "你的代码使用的内存超过了 {limit}，已被停止；检查是否创建了过大的张量"
        "（看看它的形状），或者有不断增长的列表。",
    },
    "gpu_memory": {
        "en": "Your code used more GPU memory than allowed (a run may use {limit} of the "
        "card) and was stopped; use smaller tensors or batches.",
        "zh-hans": "你的代码使用的 GPU 显存超出了限制（每次运行最多可用显卡的 {limit}），"
        "已被停止；请使用更小的张量或批次。",
    },
    "output": {
        "en": "Your code printed more than {limit}; it was stopped and the output cut. Print "
        "less (for example, not inside a long loop).",
        "zh-hans": "你的代码输出超过了 {limit}，已被停止，输出也被截断。请少打印一些"
        "（例如不要在很长的循环里打印）。",
    },
    "result_size": {
        "en": "The values to check are larger than {limit} and could not be returned; keep "
        "the checked variables small.",
        "zh-hans": "要检查的结果超过了 {limit}，无法传回；请让被检查的变量小一些。",
    },
    "oversized": {  # the harness dropped an export too large to send (not a sandbox reason)
        "en": "The checked values are too large to export; keep the checked variables small.",
        "zh-hans": "被检查的值太大，无法导出；请让被检查的变量小一些。",
    },
    "file_size": {
        "en": "Your code wrote a file larger than the limit of {limit} and was stopped.",
        "zh-hans": "你的代码写入的文件超过了 {limit} 的上限，已被停止。",
    },
    "signal": {
        "en": "Your code ended the process before the checks could run (it was killed by "
        "signal {signal}{name}).",
        "zh-hans": "代码在检查运行之前结束了进程（被信号 {signal}{name} 终止）。",
    },
    "exit": {
        "en": "Your code ended the process before the checks could run (exit code {code}).",
        "zh-hans": "代码在检查运行之前结束了进程（退出码 {code}）。",
    },
    "system_exit": {
        "en": "Your code called exit() (SystemExit {code}) before the checks could run; "
        "remove the exit() / sys.exit() call.",
        "zh-hans": "代码在检查运行之前调用了 exit()（SystemExit {code}）；"
        "请删除 exit() / sys.exit() 调用。",
    },
    "harness_error": {
        "en": "The run failed inside the grading harness before the checks could run (did "
        "your code change something the grader relies on?).",
        "zh-hans": "运行在评分程序内部失败了，检查没能进行（你的代码是否改动了评分程序依赖的东西？）。",  # noqa: E501
    },
    "unclean_exit": {
        "en": "The run produced its result but did not exit cleanly (is a thread or a child "
        "process of your code still running?).",
        "zh-hans": "运行产生了结果，但没有正常退出（你的代码是否还有线程或子进程在运行？）。",
    },
    "malformed_result": {
        "en": "The run sent back a malformed result (did your code write to a file "
        "descriptor or pipe it does not own?).",
        "zh-hans": "运行传回的结果格式不正确（你的代码是否写入了不属于它的文件描述符或管道？）。",
    },
    "layer": {
        "en": "The grader could not isolate your run{layer}; this is not your fault and has "
        "been reported.",
        "zh-hans": "评分系统无法隔离你的运行{layer}；这不是你的问题，已经记录。",
    },
}

# A limit's number for each reason, taken from the exercise's limits when the report lacks it.
LIMIT_KEYS = {
    "cpu_time": "cpu_seconds",
    "wall_time": "wall_seconds",
    "memory": "memory_bytes",
    "gpu_memory": "gpu_memory_fraction",
    "output": "output_bytes",
    "result_size": "result_bytes",
    "file_size": "file_size_bytes",
}
_BYTES = frozenset({"memory", "output", "result_size", "file_size"})
_UNIT = {"en": "bytes", "zh-hans": "字节"}


def shape_text(shape: Sequence[int]) -> str:
    """A shape as Python writes a tuple: (3, 2), (5,), (). The one shape formatter of the
    messages, the diagnostics and the value previews."""
    if len(shape) == 1:
        return f"({int(shape[0])},)"
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def fmt_bytes(n: float, lang: str = "en") -> str:
    """64 KiB, 1024 MiB, 1000 bytes / 1000 字节: whole numbers where the limit is round."""
    for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{round(n / size, 2):g} {unit}"
    return f"{n:g} {_UNIT[lang]}"


def _num(x: Any) -> Any:
    if isinstance(x, bool) or not isinstance(x, int | float | str):
        return None
    if isinstance(x, str):
        try:
            return float(x)
        except ValueError:
            return None
    return x


def limit_message(
    reason: str, detail: dict[str, Any] | None, limits: dict[str, Any] | None = None
) -> dict[str, str] | None:
    """``{"en", "zh-hans"}`` for a sandbox ``reason`` and its ``detail``; None if unknown.

    ``limits`` (the exercise's ``Limits`` as a dict) fills a limit the report left out.
    """
    table = LIMITS.get(reason)
    if table is None:
        return None
    detail = dict(detail or {})
    limit = _num(detail.get("limit"))
    if limit is None and limits and reason in LIMIT_KEYS:
        limit = _num(limits.get(LIMIT_KEYS[reason]))
    name, layer = detail.get("name"), detail.get("layer")
    out: dict[str, str] = {}
    for lang in LANGS:
        facts: dict[str, Any] = {
            "code": detail.get("code"),
            "signal": detail.get("signal"),
            "layer": (f" (sandbox layer {layer})" if lang == "en" else f"（沙箱层 {layer}）")
            if layer
            else "",
            "name": (f", {name}" if lang == "en" else f" / {name}") if name else "",
        }
        if limit is None:
            facts["limit"] = None
        elif reason in _BYTES:
            facts["limit"] = fmt_bytes(float(limit), lang)
        elif reason == "gpu_memory":
            facts["limit"] = f"{float(limit):.0%}"
        else:
            facts["limit"] = f"{float(limit):g}"
        out[lang] = fill(table[lang], facts)
    return out


# A report without a reason we know (an older sandbox, a stand-in pool): the English text is
# the sandbox's own message; the Chinese one says at least which limit was hit.
STATUS_ZH = {
    "timeout": "你的代码运行时间超过了上限，已被停止；检查是否有停不下来的循环。",
    "memory_limit": "你的代码使用的内存超过了上限，已被停止；检查是否创建了过大的张量。",
    "output_limit": "你的代码输出超过了上限，已被停止，输出也被截断。",
}


def run_end_message(
    reason: str,
    detail: dict[str, Any] | None,
    *,
    status: str = "",
    fallback: str = "",
    limits: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The student's message for a run that hit a limit or ended early, in both languages."""
    known = limit_message(reason, detail, limits)
    if known is not None:
        return known
    en = fallback or status or "The run ended early."
    return {"en": en, "zh-hans": STATUS_ZH.get(status, en)}
